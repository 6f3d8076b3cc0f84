package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// StreamMagic opens every clip of a training stream.
const StreamMagic = "LTS1"

// StreamHeaderSize is the size of a clip's header in a training stream.
const StreamHeaderSize = 12

// WriteStreamClip writes c in the training-stream format of
// `livetsm synth --stream`, which tools/train.py reads. Per clip:
//
//	offset size  field
//	0      4     magic "LTS1"
//	4      1     label: class index (uint8), as in Labels
//	5      1     reserved, 0
//	6      2     T: frames (uint16, little-endian)
//	8      2     H: height (uint16, little-endian)
//	10     2     W: width (uint16, little-endian)
//	12     T·H·W·3  pixels: uint8 RGB, frame by frame, row by row (T,H,W,3)
//
// A stream is clips back to back, with nothing between or after them.
func WriteStreamClip(w io.Writer, c Clip) error {
	if len(c.Frames) == 0 || len(c.Frames) > 0xffff {
		return fmt.Errorf("synth: stream clip of %d frames", len(c.Frames))
	}
	fw, fh := c.Frames[0].Rect.Dx(), c.Frames[0].Rect.Dy()
	if fw <= 0 || fh <= 0 || fw > 0xffff || fh > 0xffff {
		return fmt.Errorf("synth: stream frame size %dx%d", fw, fh)
	}
	if c.Label < 0 || c.Label > 0xff {
		return fmt.Errorf("synth: stream label %d", c.Label)
	}
	buf := make([]byte, StreamHeaderSize+len(c.Frames)*fw*fh*3)
	copy(buf, StreamMagic)
	buf[4] = byte(c.Label)
	binary.LittleEndian.PutUint16(buf[6:], uint16(len(c.Frames)))
	binary.LittleEndian.PutUint16(buf[8:], uint16(fh))
	binary.LittleEndian.PutUint16(buf[10:], uint16(fw))
	o := StreamHeaderSize
	for i, f := range c.Frames {
		if f.Rect.Dx() != fw || f.Rect.Dy() != fh {
			return fmt.Errorf("synth: stream frame %d is %v, want %dx%d", i, f.Rect.Size(), fw, fh)
		}
		for y := range fh {
			row := f.Pix[y*f.Stride:]
			for x := range fw {
				buf[o], buf[o+1], buf[o+2] = row[4*x], row[4*x+1], row[4*x+2]
				o += 3
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

// ReadStreamClip reads one clip written by WriteStreamClip and returns its
// label, its size and its RGB pixels (T,H,W,3). At the end of the stream it
// returns io.EOF.
func ReadStreamClip(r io.Reader) (label, t, h, w int, rgb []byte, err error) {
	var hdr [StreamHeaderSize]byte
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, 0, 0, nil, err
	}
	if string(hdr[:4]) != StreamMagic {
		return 0, 0, 0, 0, nil, errors.New("synth: stream: bad magic")
	}
	label = int(hdr[4])
	t = int(binary.LittleEndian.Uint16(hdr[6:]))
	h = int(binary.LittleEndian.Uint16(hdr[8:]))
	w = int(binary.LittleEndian.Uint16(hdr[10:]))
	rgb = make([]byte, t*h*w*3)
	if _, err = io.ReadFull(r, rgb); err != nil {
		return 0, 0, 0, 0, nil, io.ErrUnexpectedEOF
	}
	return label, t, h, w, rgb, nil
}
