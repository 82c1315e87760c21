import pytest

from users import UserStore


@pytest.fixture
def store():
    store = UserStore(":memory:")
    yield store
    store.close()


def test_add_and_find(store):
    user = store.add_user("ada", "ada@example.org")
    assert store.find_by_name("ada") == user


def test_find_unknown_is_none(store):
    assert store.find_by_name("nobody") is None


def test_deactivate_hides_user_from_active_list(store):
    store.add_user("ada", "ada@example.org")
    store.add_user("bob", "bob@example.org")
    assert store.deactivate("ada") is True
    assert [user.name for user in store.active_users()] == ["bob"]


def test_deactivate_unknown_is_false(store):
    assert store.deactivate("nobody") is False
