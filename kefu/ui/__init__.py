"""Streamlit building blocks generated from a Sheet. The only part of kefu/ that draws."""
