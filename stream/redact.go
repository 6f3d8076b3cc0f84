package stream

import (
	"net/url"
	"strings"
)

// RedactURL hides the user information of a URL (user name and password:
// a NATS token, for one, is a user name) for logs and errors, replacing it
// with "xxx". It does so in a URL that does not parse too, where the user
// information is what lies between "://" and the last "@" of the
// authority.
func RedactURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		if p.User == nil {
			return u
		}
		p.User = url.User("xxx")
		return p.String()
	}
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	auth := u[i+3:]
	if j := strings.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	}
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return u
	}
	return u[:i+3] + "xxx" + u[i+3+at:]
}
