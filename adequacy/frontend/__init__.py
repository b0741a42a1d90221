"""What the Streamlit app (``app.py``) draws and reads, kept out of the entry point.

Owns the app's plotly maps (``maps``), reading uploads in memory and the
service area of uploads without county polygons (``uploads``, ``sources``), the
data sources it offers (``sources``), the status line (``status``), tables as
people read them (``tables``), the views (``pages``: headline, county tables,
languages; ``deficiencies_view``, ``appointments_view``, ``downloads_view``,
``whatif_view``) and the downloads built in memory (``exports``: the quarterly
report, the deficiency workpaper, the exception drafts). Uses the engine, the
run folder, the findings, the report and the demo; nothing below it uses the
front end.
"""
