package web

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// vp8Packets splits a frame into n RTP packets with the VP8 payload
// descriptor (PictureID pid, 15 bits, when pid ≥ 0).
func vp8Packets(seq uint16, ts uint32, pid int, data []byte, n int) []*rtp.Packet {
	var out []*rtp.Packet
	size := (len(data) + n - 1) / n
	for i := 0; i < n; i++ {
		chunk := data[i*size : min((i+1)*size, len(data))]
		var desc []byte
		s := byte(0)
		if i == 0 {
			s = 0x10
		}
		if pid >= 0 {
			desc = []byte{0x80 | s, 0x80, 0x80 | byte(pid>>8), byte(pid)}
		} else {
			desc = []byte{s}
		}
		out = append(out, &rtp.Packet{
			Header:  rtp.Header{SequenceNumber: seq + uint16(i), Timestamp: ts, Marker: i == n-1},
			Payload: append(desc, chunk...),
		})
	}
	return out
}

func padPacket(seq uint16, ts uint32) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Padding: true}}
}

func TestVP8Assembler(t *testing.T) {
	frame := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 30) }
	// stream builds packets for frames 0..n-1, 3 packets each, with a
	// hook to edit the sequence.
	type step struct {
		pkt *rtp.Packet
		dt  time.Duration
	}
	build := func(pid bool, padAfter0 int) []step {
		var steps []step
		seq := uint16(65530) // wraps
		for i := 0; i < 6; i++ {
			p := -1
			if pid {
				p = (32760 + i) & 0x7fff // wraps at 15 bits
			}
			ts := uint32(0xffffff00) + uint32(i)*6000
			for _, pk := range vp8Packets(seq, ts, p, frame(i), 3) {
				steps = append(steps, step{pk, 0})
			}
			seq += 3
			if i == 0 {
				for k := 0; k < padAfter0; k++ {
					steps = append(steps, step{padPacket(seq, ts), 0})
					seq++
				}
			}
			steps[len(steps)-1].dt = 100 * time.Millisecond
		}
		return steps
	}
	tests := []struct {
		name string
		pid  bool
		pad  int
		edit func([]step) []step
		want string // frames emitted: index, "!" when marked lost
	}{
		{"in order", true, 0, nil, "0 1 2 3 4 5"},
		{"no picture ids", false, 0, nil, "0 1 2 3 4 5"},
		{"padding run after the first frame", true, 17, nil, "0 1 2 3 4 5"},
		{"padding without picture ids", false, 17, nil, "0 1 2 3 4 5"},
		{"reordered within a frame", true, 0, func(s []step) []step {
			s[3], s[5] = s[5], s[3]
			return s
		}, "0 1 2 3 4 5"},
		{"duplicates", true, 0, func(s []step) []step {
			return append(s[:4:4], append([]step{s[3], s[4], s[3]}, s[4:]...)...)
		}, "0 1 2 3 4 5"},
		{"a frame lost entirely", true, 0, func(s []step) []step {
			return append(s[:6:6], s[9:]...)
		}, "0 1 3! 4 5"},
		{"a frame lost entirely, no picture ids", false, 0, func(s []step) []step {
			return append(s[:6:6], s[9:]...)
		}, "0 1 3! 4 5"},
		{"a packet lost", true, 0, func(s []step) []step {
			return append(s[:7:7], s[8:]...)
		}, "0 1 3! 4 5"},
		{"a late retransmission within the wait", true, 0, func(s []step) []step {
			late := s[7]
			s = append(s[:7:7], s[8:]...)
			return append(s[:10:10], append([]step{late}, s[10:]...)...)
		}, "0 1 2 3 4 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := build(tt.pid, tt.pad)
			if tt.edit != nil {
				steps = tt.edit(steps)
			}
			a := newVP8Assembler()
			now := time.Unix(0, 0)
			var got []string
			for _, st := range steps {
				for _, f := range a.push(st.pkt, now) {
					i := int(f.data[0])
					if !bytes.Equal(f.data, frame(i)) {
						t.Errorf("frame %d: wrong data %v", i, f.data)
					}
					s := fmt.Sprint(i)
					if f.lost {
						s += "!"
					}
					got = append(got, s)
				}
				now = now.Add(st.dt)
			}
			if g := fmt.Sprint(got); g != "["+tt.want+"]" {
				t.Errorf("emitted %s, want [%s]", g, tt.want)
			}
		})
	}
}
