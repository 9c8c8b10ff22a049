"""The Compare page's tabs, one module each: what a reference and a candidate run (chosen on
the page) record, drawn. No section reads another's session keys; each takes what it shows."""
