package stream

import "testing"

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rtsp://me:secret@cam.local:554/live", "rtsp://xxx@cam.local:554/live"},
		{"nats://TOKEN@127.0.0.1:4222", "nats://xxx@127.0.0.1:4222"},
		{"rtsp://cam.local/live", "rtsp://cam.local/live"},
		{"rtsp://me:s3cret@[::1/x", "rtsp://xxx@[::1/x"},           // does not parse
		{"rtsp://me:p@ss@[::1/x?a=b@c", "rtsp://xxx@[::1/x?a=b@c"}, // last @ of the authority
		{"not a url at all", "not a url at all"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
