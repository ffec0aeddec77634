"""sendwatch: alerts on SEND improvement notices and area SEND inspection reports in England."""

__version__ = "0.1.0"
