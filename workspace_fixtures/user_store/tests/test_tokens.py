from users import sign, verify


def test_round_trip():
    assert verify(sign(42)) == 42


def test_tampered_token_is_rejected():
    user_id, _, digest = sign(42).partition(".")
    assert verify(f"43.{digest}") is None
    assert verify("not-a-token") is None
