"""Media: MP4 encode and probe, input images, spritesheets."""
