<?xml version="1.0" encoding="utf-8"?>
<!--
  Shows a sendwatch feed (Atom or RSS 2.0) as a page when it is opened in a browser.
  Feed readers ignore the xml-stylesheet instruction and read the feed as it is.
  Everything from the feed is output as text (xsl:value-of, never disable-output-escaping),
  and no script is produced: the pages' Content-Security-Policy still applies.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:variable name="title" select="/atom:feed/atom:title | /rss/channel/title"/>
  <xsl:variable name="self" select="(/atom:feed/atom:link[@rel='self'] | /rss/channel/atom:link[@rel='self'])[1]/@href"/>
  <xsl:variable name="page" select="(/atom:feed/atom:link[@rel='alternate']/@href | /rss/channel/link)[1]"/>

  <xsl:template match="/">
    <html lang="en-GB">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed) – sendwatch</title>
        <style>
          * { box-sizing: border-box; }
          body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; margin: 0; line-height: 1.45; overflow-wrap: anywhere; }
          a { color: #1d70b8; } a:focus { outline: 3px solid #ffdd00; outline-offset: 0; }
          header.site { background: #0b0c0c; color: #fff; padding: 10px 16px; }
                    main { max-width: 60em; margin: 0 auto; padding: 16px; }
          .about { border-left: 6px solid #1d70b8; background: #f3f2f1; padding: 8px 14px; }
          code { font-size: 0.95rem; }
          .muted { color: #505a5f; }
          ol.entries { list-style: none; padding: 0; }
          ol.entries li { border-left: 4px solid #b1b4b6; padding: 4px 12px; margin-bottom: 16px; }
          ol.entries h2 { font-size: 1.15rem; margin: 0.2em 0; }
        </style>
      </head>
      <body>
        <header class="site"><strong>sendwatch</strong> feed</header>
        <main>
          <h1><xsl:value-of select="$title"/></h1>
          <div class="about">
            <p><strong>This is a feed.</strong> Copy its address into a feed reader to hear of each new event
              without coming back here:</p>
            <p><code><xsl:value-of select="$self"/></code></p>
            <xsl:if test="$page">
              <p><a href="{$page}">The web page for these events</a></p>
            </xsl:if>
          </div>
          <p class="muted"><xsl:value-of select="/atom:feed/atom:subtitle | /rss/channel/description"/></p>
          <xsl:choose>
            <xsl:when test="/atom:feed/atom:entry | /rss/channel/item">
              <ol class="entries">
                <xsl:apply-templates select="/atom:feed/atom:entry | /rss/channel/item"/>
              </ol>
            </xsl:when>
            <xsl:otherwise><p>No events in this feed yet.</p></xsl:otherwise>
          </xsl:choose>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li>
      <h2><xsl:call-template name="linked">
        <xsl:with-param name="text" select="atom:title"/>
        <xsl:with-param name="href" select="atom:link[@rel='alternate']/@href"/>
      </xsl:call-template></h2>
      <p><strong><xsl:call-template name="day">
        <xsl:with-param name="iso" select="atom:published"/>
      </xsl:call-template></strong></p>
      <p><xsl:value-of select="atom:summary"/></p>
    </li>
  </xsl:template>

  <xsl:template match="item">
    <li>
      <h2><xsl:call-template name="linked">
        <xsl:with-param name="text" select="title"/>
        <xsl:with-param name="href" select="link"/>
      </xsl:call-template></h2>
      <!-- RFC 822: "Fri, 23 Feb 2024 00:00:00 +0000" shows as "23 Feb 2024" -->
      <p><strong><xsl:value-of select="substring(pubDate, 6, 11)"/></strong></p>
      <p><xsl:value-of select="description"/></p>
    </li>
  </xsl:template>

  <!-- The text as a link when the href is an http(s) address; anything else stays text. -->
  <xsl:template name="linked">
    <xsl:param name="text"/>
    <xsl:param name="href"/>
    <xsl:choose>
      <xsl:when test="starts-with($href, 'https://') or starts-with($href, 'http://')">
        <a href="{$href}"><xsl:value-of select="$text"/></a>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- "2024-02-23T00:00:00+00:00" as "23 February 2024", as the pages write dates. -->
  <xsl:template name="day">
    <xsl:param name="iso"/>
    <xsl:variable name="month" select="number(substring($iso, 6, 2))"/>
    <xsl:value-of select="number(substring($iso, 9, 2))"/>
    <xsl:text> </xsl:text>
    <xsl:value-of select="substring-before(substring-after(
      '|1:January|2:February|3:March|4:April|5:May|6:June|7:July|8:August|9:September|10:October|11:November|12:December|',
      concat('|', $month, ':')), '|')"/>
    <xsl:text> </xsl:text>
    <xsl:value-of select="substring($iso, 1, 4)"/>
  </xsl:template>
</xsl:stylesheet>
