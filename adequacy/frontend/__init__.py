"""What the Streamlit app (``app.py``) draws and reads, kept out of the entry point.

Owns the app's plotly maps (``maps``), reading uploads in memory
(``uploads``) and the data sources it offers (``sources``). Uses the engine,
the run folder and the demo; nothing below it uses the front end.
"""
