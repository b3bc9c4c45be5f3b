"""The one exception type user mistakes raise; the CLI prints it without a traceback."""


class HarnessError(Exception):
    """A problem the user can fix: the message says what is wrong and what to do."""


class ResourceError(HarnessError):
    """A data file or model could not be found, downloaded or verified."""


class DataError(HarnessError):
    """An input file is malformed; the message names the file and line."""
