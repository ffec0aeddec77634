"""The crawler: one Scrapy spider per source, and the pipeline that hands findings to the store."""
