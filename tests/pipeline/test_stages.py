import pytest

from configs import ConfigError, load_settings
from pipeline.langid import detect_languages
from pipeline.metrics import csat_top2, csat_top2_sql, nps, nps_sql
from pipeline.segment import split_sentences
from pipeline.touchpoints import assign_touchpoint

SETTINGS = load_settings()


def test_nps_known_numbers():
    assert nps([10, 9, 8, 7, 6, 0]) == 0.0
    assert nps([10, 10, 9, 3]) == 50.0
    assert nps([0, 1, 2]) == -100.0
    assert nps([]) is None


def test_sql_and_python_share_one_metric_definition():
    import random

    import duckdb

    rng = random.Random(5)
    con = duckdb.connect()
    for _ in range(20):
        vals = [rng.randint(0, 10) for _ in range(rng.randint(1, 40))]
        scale = rng.choice([5, 7])
        csat = [rng.randint(1, scale) for _ in vals]
        con.execute("CREATE OR REPLACE TABLE t (nps DOUBLE, csat DOUBLE, csat_scale INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, ?, ?)", [[v, c, scale] for v, c in zip(vals, csat)])
        got_nps, got_csat = con.execute(f"SELECT {nps_sql('nps')}, {csat_top2_sql()} FROM t").fetchone()
        assert got_nps == nps(vals) and got_csat == csat_top2(csat, scale)


def test_csat_top2_per_scale():
    assert csat_top2([5, 4, 3, 1], 5) == 0.5
    assert csat_top2([7, 6, 5], 7) == round(2 / 3, 4)


def test_language_detection_four_languages_and_short_text_fallback():
    texts = ["The delivery was late again", "快递太慢了", "ارسال خیلی دیر بود", "La consegna è arrivata in ritardo", "ok", "ok"]
    langs, confs = detect_languages(texts, [None, None, None, None, "it", None], ("en", "zh", "fa", "it", "ar", "de"), 0.5)
    assert langs == ["en", "zh", "fa", "it", "it", "und"]  # "ok": the record's hint, else "und" (never "en")
    assert min(confs[:4]) > 0.9 and max(confs[4:]) < 0.5  # "ok" falls back because it is below min_confidence


def test_sentence_split_per_language_and_line_breaks():
    out = split_sentences(["First one. Second one!", "快递太慢了。客服也不回复。", "Ciao\nGrazie mille"], ["en", "zh", "it"])
    assert out[0] == ["First one.", "Second one!"]
    assert out[1] == ["快递太慢了。", "客服也不回复。"]
    assert out[2] == ["Ciao", "Grazie mille"]


def test_touchpoint_precedence():
    m = SETTINGS.mapping
    assert assign_touchpoint("review", "x", "Billing", None, "anything", m) == ("billing", "post_purchase")
    assert assign_touchpoint("review", "appstore", None, "app", "late delivery", m) == ("app", "discover")
    assert assign_touchpoint("chat", "x", None, None, "la consegna è in ritardo", m) == ("delivery", "fulfilment")
    assert assign_touchpoint("chat", "x", None, None, "hello", m) == ("support", "support")
    assert assign_touchpoint("survey", "x", None, None, "hello", m) == ("general", "other")


def test_misspelt_config_key_names_key_and_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text((SETTINGS.config_path).read_text(encoding="utf-8").replace("max_bad_fraction", "max_bad_fractoin"),
                 encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(p)
    assert "max_bad_fractoin" in str(exc.value) and str(p) in str(exc.value)
