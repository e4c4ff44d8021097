# How the portal writes dates and times (LANGUAGE_CODE is en-gb). Templates use
# {{ value|date:"DATETIME_FORMAT" }}, Python formats.date_format(value, "DATETIME_FORMAT").
DATE_FORMAT = "j M Y"  # 1 May 2027
DATETIME_FORMAT = "j M Y, H:i T"  # 1 May 2027, 14:03 CEST
TIME_FORMAT = "H:i:s T"  # 14:03:27 CEST, where seconds matter (the activity log)
