package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// StreamMagic opens every clip of a training stream.
const StreamMagic = "LTS2"

// StreamHeaderSize is the size of a clip's header in a training stream.
const StreamHeaderSize = 16

// WriteStreamClip writes c in the training-stream format of
// `livetsm synth --stream`, which tools/train.py reads. Per clip:
//
//	offset size  field
//	0      4     magic "LTS2"
//	4      1     label: class index (uint8), as in Labels
//	5      1     reserved, 0
//	6      2     T: frames (uint16, little-endian)
//	8      2     H: height (uint16, little-endian)
//	10     2     W: width (uint16, little-endian)
//	12     2     Start: first frame of the motion (uint16, little-endian)
//	14     2     End: frame after the motion (uint16; Start = End = 0 for No gesture)
//	16     T·H·W·3  pixels: uint8 RGB, frame by frame, row by row (T,H,W,3)
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
	if c.Start < 0 || c.End < c.Start || c.End > len(c.Frames) {
		return fmt.Errorf("synth: stream motion [%d, %d) of %d frames", c.Start, c.End, len(c.Frames))
	}
	buf := make([]byte, StreamHeaderSize+len(c.Frames)*fw*fh*3)
	copy(buf, StreamMagic)
	buf[4] = byte(c.Label)
	binary.LittleEndian.PutUint16(buf[6:], uint16(len(c.Frames)))
	binary.LittleEndian.PutUint16(buf[8:], uint16(fh))
	binary.LittleEndian.PutUint16(buf[10:], uint16(fw))
	binary.LittleEndian.PutUint16(buf[12:], uint16(c.Start))
	binary.LittleEndian.PutUint16(buf[14:], uint16(c.End))
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

// StreamClip is one clip of a training stream, as ReadStreamClip reads it.
type StreamClip struct {
	// Label is the class index; T, H and W the clip's size.
	Label, T, H, W int
	// Start and End delimit the motion's frames [Start, End).
	Start, End int
	// RGB is the pixels, (T,H,W,3) row-major.
	RGB []byte
}

// ReadStreamClip reads one clip written by WriteStreamClip. At the end of the
// stream it returns io.EOF.
func ReadStreamClip(r io.Reader) (StreamClip, error) {
	var hdr [StreamHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return StreamClip{}, err
	}
	if string(hdr[:4]) != StreamMagic {
		return StreamClip{}, errors.New("synth: stream: bad magic")
	}
	c := StreamClip{
		Label: int(hdr[4]),
		T:     int(binary.LittleEndian.Uint16(hdr[6:])),
		H:     int(binary.LittleEndian.Uint16(hdr[8:])),
		W:     int(binary.LittleEndian.Uint16(hdr[10:])),
		Start: int(binary.LittleEndian.Uint16(hdr[12:])),
		End:   int(binary.LittleEndian.Uint16(hdr[14:])),
	}
	c.RGB = make([]byte, c.T*c.H*c.W*3)
	if _, err := io.ReadFull(r, c.RGB); err != nil {
		return StreamClip{}, io.ErrUnexpectedEOF
	}
	return c, nil
}
