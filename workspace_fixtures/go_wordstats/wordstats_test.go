package wordstats

import "testing"

func TestWordCountSimple(t *testing.T) {
	if got := WordCount("the quick fox"); got != 3 {
		t.Errorf("WordCount(%q) = %d, want 3", "the quick fox", got)
	}
}

func TestWordCountExtraSpaces(t *testing.T) {
	if got := WordCount("  the   quick\tfox \n"); got != 3 {
		t.Errorf("WordCount with extra white space = %d, want 3", got)
	}
}

func TestWordCountEmpty(t *testing.T) {
	if got := WordCount(""); got != 0 {
		t.Errorf("WordCount(\"\") = %d, want 0", got)
	}
}

func TestLongest(t *testing.T) {
	if got := Longest("a bb ccc dd"); got != "ccc" {
		t.Errorf("Longest = %q, want %q", got, "ccc")
	}
}
