"""Brazilian Portuguese: day/month/year and 24-hour times (Django's defaults, plus seconds)."""

DATETIME_FORMAT = "d/m/Y H:i:s"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
TIME_FORMAT = "H:i:s"
YEAR_MONTH_FORMAT = "m/Y"

DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
