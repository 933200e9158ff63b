import duckdb

from bold.ingest.optout import digests, hmac_sql


def test_sql_hmac_equals_python_hmac():
    key = "k3yK3yk3yK3yk3yK3yk3yK3yk3yK3yAB"
    values = ["9434765919", "JOE|BLOGGS|1980-01-01", "ÉLODIE|O BRIEN|1990-12-31"]
    con = duckdb.connect()
    got = [con.execute(f"select {hmac_sql(key, 'nhs_number', '?')}", [v]).fetchone()[0] for v in values]
    assert got == digests(key, "nhs_number", values)
    assert digests(key, "nhs_number", values) != digests(key, "name_dob", values)  # kinds never collide
