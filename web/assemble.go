package web

import (
	"slices"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// Limits of the frame assembler.
const (
	// maxPendingFrames bounds the frames held while an older one is
	// incomplete (about a quarter of a second at 30 fps).
	maxPendingFrames = 8
	// maxFrameWait is how long an incomplete frame may hold back newer,
	// complete ones (time for a NACK retransmission to fill it).
	maxFrameWait = 250 * time.Millisecond
	// maxFramePackets bounds the packets of one frame.
	maxFramePackets = 1024
)

// assembledFrame is one complete VP8 frame.
type assembledFrame struct {
	data []byte
	ts   uint32 // RTP timestamp
	// lost is set when frames went missing since the previous one: the
	// decoder's references are broken until the next key frame.
	lost bool
}

// partialFrame collects the packets of one RTP timestamp.
type partialFrame struct {
	ts         uint32
	first      time.Time // arrival of its first packet
	pkts       map[uint16]*rtp.Packet
	head, tail int // sequence numbers of the first (S=1, PID 0) and marker packets; −1 unknown
	pid        int // the PictureID, −1 without one
}

func (f *partialFrame) complete() bool {
	if f.head < 0 || f.tail < 0 {
		return false
	}
	n := int(uint16(f.tail) - uint16(f.head))
	if n >= maxFramePackets {
		return false
	}
	for i := 0; i <= n; i++ {
		if f.pkts[uint16(f.head+i)] == nil {
			return false
		}
	}
	return true
}

// vp8Assembler turns VP8 RTP packets (RFC 7741) into frames: it groups
// packets by timestamp, emits a frame as soon as its packets from the
// partition head to the marker are all there, in timestamp order, and
// reports frames lost on the way (by PictureID, or by sequence numbers for
// senders without PictureIDs). Padding-only packets, which browsers send to
// probe bandwidth, are ignored. It waits at most maxFrameWait for an
// incomplete frame before giving it up.
//
// (pion's samplebuilder drops the frame that follows a run of padding
// packets, which Chrome sends at the start of every call.)
type vp8Assembler struct {
	pending  []*partialFrame // by timestamp, oldest first
	haveLast bool
	lastTS   uint32
	lastSeq  uint16 // marker sequence number of the last frame emitted
	lastPID  int
	dropped  bool     // a frame was given up since the last one emitted
	padding  []uint16 // recent padding sequence numbers, for the gap check
	depack   codecs.VP8Packet
}

func newVP8Assembler() *vp8Assembler { return &vp8Assembler{lastPID: -1} }

// after reports whether timestamp a is later than b (with wraparound).
func after(a, b uint32) bool { return int32(a-b) > 0 }

// push adds a packet that arrived at now and returns the frames it
// completes.
func (a *vp8Assembler) push(p *rtp.Packet, now time.Time) []assembledFrame {
	if len(p.Payload) == 0 {
		a.padding = append(a.padding, p.SequenceNumber)
		if len(a.padding) > 64 {
			a.padding = a.padding[len(a.padding)-64:]
		}
		return nil
	}
	if a.haveLast && !after(p.Timestamp, a.lastTS) {
		return nil // a frame already emitted or given up
	}
	if _, err := a.depack.Unmarshal(p.Payload); err != nil {
		return nil
	}
	i, found := slices.BinarySearchFunc(a.pending, p.Timestamp, func(f *partialFrame, ts uint32) int {
		switch {
		case f.ts == ts:
			return 0
		case after(f.ts, ts):
			return 1
		default:
			return -1
		}
	})
	if !found {
		f := &partialFrame{ts: p.Timestamp, first: now, pkts: map[uint16]*rtp.Packet{}, head: -1, tail: -1, pid: -1}
		a.pending = slices.Insert(a.pending, i, f)
	}
	f := a.pending[i]
	if len(f.pkts) < maxFramePackets {
		f.pkts[p.SequenceNumber] = p
	}
	if a.depack.S == 1 && a.depack.PID == 0 {
		f.head = int(p.SequenceNumber)
		if a.depack.I == 1 {
			f.pid = int(a.depack.PictureID)
		}
	}
	if p.Marker {
		f.tail = int(p.SequenceNumber)
	}

	var out []assembledFrame
	for len(a.pending) > 0 {
		f := a.pending[0]
		if f.complete() {
			out = append(out, a.emit(f))
			a.pending = a.pending[1:]
			continue
		}
		// Give up the oldest frame when it held the others too long.
		if len(a.pending) > maxPendingFrames || (len(a.pending) > 1 && now.Sub(f.first) > maxFrameWait) {
			a.pending = a.pending[1:]
			a.dropped = true
			a.haveLast, a.lastTS = true, f.ts
			continue
		}
		break
	}
	return out
}

// emit builds a complete frame and records it as the last one.
func (a *vp8Assembler) emit(f *partialFrame) assembledFrame {
	var data []byte
	n := int(uint16(f.tail) - uint16(f.head))
	for i := 0; i <= n; i++ {
		payload, err := a.depack.Unmarshal(f.pkts[uint16(f.head+i)].Payload)
		if err != nil {
			a.dropped = true
			data = nil
			break
		}
		data = append(data, payload...)
	}
	lost := a.dropped
	if a.haveLast && !lost {
		if f.pid >= 0 && a.lastPID >= 0 {
			lost = f.pid != (a.lastPID+1)&0x7fff && f.pid != (a.lastPID+1)&0x7f
		} else {
			lost = a.seqGap(uint16(f.head))
		}
	}
	a.haveLast, a.lastTS, a.lastSeq, a.lastPID, a.dropped = true, f.ts, uint16(f.tail), f.pid, false
	return assembledFrame{data: data, ts: f.ts, lost: lost}
}

// seqGap reports whether packets are missing between the last frame's
// marker and head, not counting padding.
func (a *vp8Assembler) seqGap(head uint16) bool {
	gap := int(head - a.lastSeq - 1)
	if gap <= 0 {
		return false
	}
	if gap > 64 {
		return true
	}
	for s := a.lastSeq + 1; s != head; s++ {
		if !slices.Contains(a.padding, s) {
			return true
		}
	}
	return false
}
