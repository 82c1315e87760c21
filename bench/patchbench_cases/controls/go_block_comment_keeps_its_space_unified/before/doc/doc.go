package doc

/*
 * Package doc renders pages.
 */
func Render(title string) string {
	if title == "" {
		title = "untitled"
	}
	return "<h1>" + title + "</h1>"
}
