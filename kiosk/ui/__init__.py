"""The touchscreen (Kivy). The only package that imports kivy; it reaches the bath through the
controller's local API only."""
