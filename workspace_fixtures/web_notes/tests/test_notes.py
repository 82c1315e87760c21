import threading
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from notes.page import render
from notes.server import make_server
from notes.store import NoteStore


@pytest.fixture
def server():
    httpd = make_server(0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_store_refuses_blank_notes():
    with pytest.raises(ValueError):
        NoteStore().add("   ")


def test_page_lists_notes_and_counts_them():
    html = render(["milk", "eggs"])
    assert "<li>milk</li>" in html and "2 notes" in html


def test_page_has_a_form_to_add_a_note():
    html = render([])
    assert "<form" in html and "<button" in html and "No notes yet." in html


def test_posting_a_note_adds_it(server):
    data = urlencode({"text": "milk"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{server}/notes", data=data)) as reply:
        assert "<li>milk</li>" in reply.read().decode()


def test_unknown_pages_are_not_found(server):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server}/nowhere")
    assert caught.value.code == 404
