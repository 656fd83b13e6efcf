"""The zoo site: the catalog rendered as static HTML pages where every number
shows its source and a verification badge, plus charts and JSON exports.

`build_site` (in `mlsysim.site.build`) is the entry point; `import mlsysim`
never loads this package, so Jinja2 and matplotlib are imported only here.
"""
