// Package wordstats counts words and measures text.
package wordstats

import "strings"

// WordCount is the number of words in text; words are separated by any run of white space.
func WordCount(text string) int {
	if text == "" {
		return 0
	}
	return len(strings.Split(text, " "))
}

// Longest is the longest word in text (the first one on a tie), or "" for text with no words.
func Longest(text string) string {
	best := ""
	for _, word := range strings.Fields(text) {
		if len(word) > len(best) {
			best = word
		}
	}
	return best
}
