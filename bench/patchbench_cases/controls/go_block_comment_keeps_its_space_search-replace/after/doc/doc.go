package doc

/*
 * Package doc renders pages.
 * It keeps no state.
 */
func Render(title string) string {
	if title == "" {
		title = "untitled"
	}
	return "<h1>" + title + "</h1>"
}
