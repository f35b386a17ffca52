"""English: ISO-like dates and 24-hour times, as the hub has always shown them."""

DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i:s"
YEAR_MONTH_FORMAT = "Y-m"

# No thousands grouping: figures read as the providers send them (1012.34 USD).
NUMBER_GROUPING = 0
