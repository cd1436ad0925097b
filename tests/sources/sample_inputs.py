"""Small inputs of each format.

Shared by the reader tests (test_formats.py) and the folder ingest tests (test_folder.py).
"""

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Example Wire</title><language>en-us</language>
<item><title>Port strike ends after two weeks</title><link>https://news.example.com/a/1?utm_source=rss#top</link>
<guid>wire-1</guid><pubDate>Tue, 03 Mar 2020 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Dock workers returned to work on Tuesday after union leaders accepted a pay offer.&lt;/p&gt;
&lt;p&gt;The strike had halted most container traffic at the port for two weeks.&lt;/p&gt;</description></item>
<item><title>Empty item</title><link>https://news.example.com/a/2</link><guid>wire-2</guid></item>
</channel></rss>"""

EMPTY_FEED = '<?xml version="1.0"?><rss version="2.0"><channel><title>Nothing</title></channel></rss>'

PAGE = """<html><head><title>Library opens | Town Herald</title>
<meta property="og:title" content="Library opens its doors"><meta name="author" content="Jane Roe">
<meta property="article:published_time" content="2021-06-01T08:00:00Z"></head>
<body><nav>Home | News | Sport</nav><article><h1>Library opens its doors</h1>
<p>The new town library opened on Monday with a reading by local schoolchildren and a concert in the park.</p>
<p>Officials said the building cost less than planned and was finished two months early, a rare outcome.</p>
<p>The library will be open seven days a week and offers free internet access to all residents.</p>
</article><footer>Copyright Town Herald</footer></body></html>"""

ARTICLE = {
    "url": "https://example.org/story?id=7&utm_campaign=x",
    "title": "Bridge reopens",
    "published_at": "2022-02-02T09:30:00+01:00",
    "authors": ["A. Writer"],
    "language": "en",
    "body": "The old bridge reopened to traffic on Wednesday after a year of repairs.\n\n"
    "Drivers welcomed the shorter commute, and shop owners on both banks said trade had already picked up.",
}
