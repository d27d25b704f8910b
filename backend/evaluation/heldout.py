"""The reports kept out of the training data, for evaluation (issue 14): parts of their paths."""

HELDOUT_REPORTS = (
    "lifeway-foods-inc_2019",
    "viavi-solutions-inc_2019",
    "ABMD_2012",
    "ADI_2009",
    "3M_2018_10K",
    "BOEING_2018_10K",
    "AMAZON_2019_10K",
    "COSTCO_2021_10K",
    "31a60b930e0f",
    "91ba1d46cdde",
    "__200570__",  # 常柴 2019 年报
    "__000059__",  # 华锦股份 2019 年报
)
