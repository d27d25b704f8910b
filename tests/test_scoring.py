"""Evaluation scoring: numeric tolerance in any notation, refusals, polarity, page hits."""

from backend.evaluation.scoring import page_hit, score


def test_numeric_gold_in_any_scale_notation():
    item = {"answer": "$1577.00", "answer_value": 1577, "tolerance": 0.01}
    assert score(item, {"answer": "It was $1.577 billion.", "answer_value": 1.577})
    assert score(item, {"answer": "It was $1,577 million.", "answer_value": 1577})
    assert not score(item, {"answer": "It was $1,420 million.", "answer_value": 1420})
    assert not score(item, {"answer": "Not found.", "answer_value": None, "refused": True})


def test_a_more_precise_answer_rounds_to_the_printed_gold():
    assert score(
        {"answer": "5.4%"}, {"answer": "The EBITDA margin is 5.43%.", "answer_value": 5.43}
    )
    assert not score({"answer": "5.4%"}, {"answer": "It is 5.46%.", "answer_value": 5.46})
    assert score({"answer": "$382.00"}, {"answer": "It was $381,603 thousand.", "answer_value": 1})
    assert not score({"answer": "$382.00"}, {"answer": "It was $380,903 thousand."})
    assert score(
        {"answer": "It sold its inventory 2.7 times."}, {"answer": "The turnover is 2.72."}
    )
    # a whole number under 100 is not a rounding of a nearby figure
    assert not score({"answer": "['2']"}, {"answer": "The ratio was 1.6."})
    assert not score({"answer": "['2,795']"}, {"answer": "Net sales were 2,790."})


def test_na_items_need_a_refusal():
    item = {"answer": "N/A"}
    assert score(item, {"answer": "Not found in the indexed reports.", "refused": True})
    assert not score(item, {"answer": "It was 12.", "refused": False, "answer_value": 12})


def test_tatqa_lists_and_booleans():
    assert score(
        {"answer": "['2,795', '2,780']"},
        {"answer": "Net sales were 2,795 and 2,780.", "answer_value": 2795},
    )
    assert not score(
        {"answer": "['2,795', '2,780']"}, {"answer": "Net sales were 2,795.", "answer_value": 2795}
    )
    assert score({"answer": "['2018']"}, {"answer": "2018. Intangible assets: 152 in 2019."})
    assert not score({"answer": "['2018']"}, {"answer": "2019."})
    assert score({"answer": "True"}, {"answer": "Yes, the report describes new ESG goals."})
    assert not score({"answer": "False"}, {"answer": "Yes, it does."})


def test_finglm_conclusion_number():
    item = {
        "answer": "…比值是0.10",
        "answers": [
            "已知净利润1048976368.69元和研发费用100209482.5元，企业研发经费与利润比值是0.10"
        ],
    }
    assert score(item, {"answer": "比值为0.10。", "answer_value": 0.10})
    assert not score(item, {"answer": "净利润为1048976368.69元", "answer_value": 1048976368.69})


def test_finglm_text_answer_is_its_shared_value():
    """A FinGLM text gold is right when the answer holds what all its phrasings share (the
    URL), not the whole first sentence."""
    item = {
        "answer": "常柴股份有限公司在2019年的公司网址是http://www.changchai.com.cn",
        "answers": [
            "常柴股份有限公司在2019年的公司网址是http://www.changchai.com.cn",
            "2019年常柴股份有限公司的公司网址是http://www.changchai.com.cn",
            "http://www.changchai.com.cn是常柴股份有限公司在2019年的公司网址",
        ],
    }
    assert score(
        item, {"answer": "常柴股份有限公司的公司网址：http://www.changchai.com.cn [a.pdf p.5]。"}
    )
    assert not score(item, {"answer": "常柴股份有限公司的公司网址：http://www.cninfo.com.cn。"})
    assert not score(item, {"answer": "常柴股份有限公司在2019年的公司网址。"})


def test_page_hit_pools_and_lists():
    item = {"doc": "reports/financebench/3M_2018_10K.pdf", "page": [60, 61]}
    assert page_hit(item, [{"doc": "reports/financebench/3M_2018_10K.pdf", "page": 61}], 1)
    assert not page_hit(item, [{"doc": "reports/financebench/3M_2018_10K.pdf", "page": 59}], 5)
    pools = {"reference_pools": [[{"doc": "a.pdf", "page": 4}], [{"doc": "a.pdf", "page": 9}]]}
    assert page_hit(pools, [{"doc": "reports/erc/a.pdf", "page": 9}], 5)
    assert page_hit({"answer": "x"}, [], 5) is None
