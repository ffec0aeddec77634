# sendwatch in a container: the daemon, with its SQLite store (or a PostgreSQL URL) and feeds.
#
#   docker build -t sendwatch .
#   docker run -d --name sendwatch -v sendwatch-data:/var/lib/sendwatch -p 8080:8080 \
#     --env-file /etc/sendwatch/sendwatch.env sendwatch
#
# Settings and secrets come from the env file (mode 600), never from `-e` on the command line,
# which `ps` and shell history keep. For example:
#   SENDWATCH_WEB_HOST=0.0.0.0
#   SENDWATCH_ALERTS_PUBLIC_URL=https://sendwatch.example.org
#   SENDWATCH_CRAWLER_CONTACT=sendwatch@example.org
#   SENDWATCH_SMTP_HOST=smtp.example.org
#   SENDWATCH_SMTP_FROM_ADDRESS=alerts@example.org
#   SENDWATCH_SMTP_PASSWORD=...
#   SENDWATCH_SECRET_KEY=...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SENDWATCH_DATA_DIR=/var/lib/sendwatch/data

RUN useradd --system --create-home --home-dir /var/lib/sendwatch sendwatch

WORKDIR /src
COPY pyproject.toml constraints.txt README.md scheduler.py ./
COPY sendwatch ./sendwatch
COPY crawler ./crawler
COPY storage ./storage
COPY alerts ./alerts
COPY app ./app
# The versions the tests passed with (README.md, "The lock").
RUN pip install -c constraints.txt . && rm -rf /src

USER sendwatch
WORKDIR /var/lib/sendwatch
VOLUME ["/var/lib/sendwatch"]
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["sendwatch", "run"]
