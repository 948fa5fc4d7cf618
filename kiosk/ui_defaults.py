"""The touchscreen's settings when the config names none, in one place: the config's
`kiosk:` section and the touchscreen's own entry points read them (the touchscreen process
never loads the config's YAML parser, so they cannot live in kiosk.config)."""

LANGUAGE = "en"
VOLUME = 0.6  # a share of the speaker's full volume
BLANK_AFTER_S = 300  # the screen dims at half of this without a touch, and goes dark at it
ROTATION = 0  # degrees: how the panel is mounted
