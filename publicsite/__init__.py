"""publicsite: what readers see.

Owns: the public views and their templates' tags, search, the Atom feed, sitemaps,
structured data (JSON-LD), the read-only selectors the views use, and page caching
with its purge of reverse proxies.

May import: `articles` (models, renderer, signals) and `evidence`. Never imported by
`articles` or `evidence`: a publication reaches the cache through
`articles.signals`, which `publicsite.caching` receives. Public views never write.
"""
