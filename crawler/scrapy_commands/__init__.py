"""Scrapy commands of this project (``COMMANDS_MODULE``): ``scrapy crawl`` with the spider's arguments
checked before the crawl starts."""
