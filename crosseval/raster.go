package crosseval

import (
	"cmp"
	"math"
	"slices"
)

// vec is a point or direction in image coordinates (x right, y down).
type vec struct{ x, y float64 }

func (a vec) add(b vec) vec             { return vec{a.x + b.x, a.y + b.y} }
func (a vec) sub(b vec) vec             { return vec{a.x - b.x, a.y - b.y} }
func (a vec) mul(k float64) vec         { return vec{a.x * k, a.y * k} }
func (a vec) perp() vec                 { return vec{-a.y, a.x} }
func (a vec) norm() float64             { return math.Hypot(a.x, a.y) }
func (a vec) lerp(b vec, t float64) vec { return vec{a.x + (b.x-a.x)*t, a.y + (b.y-a.y)*t} }

// unit returns a scaled to length 1 (or +y for a zero vector).
func (a vec) unit() vec {
	n := a.norm()
	if n == 0 {
		return vec{0, 1}
	}
	return vec{a.x / n, a.y / n}
}

// subRows is the number of sample rows per pixel row: the rasteriser's
// vertical anti-aliasing. Horizontally, coverage is exact along each
// sample row.
const subRows = 4

// crossing is where a polygon edge crosses a sample row, and the edge's
// winding direction.
type crossing struct {
	x   float64
	dir int
}

// raster computes the anti-aliased coverage of polygons on a w×h grid.
// cov holds the coverage of the last polygon filled over its bounding box
// [x0,x1)×[y0,y1); take clears it.
type raster struct {
	w, h           int
	cov            []float32
	xs             []crossing
	x0, y0, x1, y1 int
}

func newRaster(w, h int) *raster {
	return &raster{w: w, h: h, cov: make([]float32, w*h)}
}

// fill computes the coverage of the closed polygon pts (nonzero winding)
// into r.cov and reports whether any pixel is touched.
func (r *raster) fill(pts []vec) bool {
	if len(pts) < 3 {
		return false
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		minX, maxX = min(minX, p.x), max(maxX, p.x)
		minY, maxY = min(minY, p.y), max(maxY, p.y)
	}
	r.x0, r.x1 = max(int(math.Floor(minX)), 0), min(int(math.Ceil(maxX))+1, r.w)
	r.y0, r.y1 = max(int(math.Floor(minY)), 0), min(int(math.Ceil(maxY))+1, r.h)
	if r.x0 >= r.x1 || r.y0 >= r.y1 {
		return false
	}
	const wgt = 1.0 / subRows
	for py := r.y0; py < r.y1; py++ {
		row := r.cov[py*r.w : (py+1)*r.w]
		for s := range subRows {
			sy := float64(py) + (float64(s)+0.5)/subRows
			r.xs = r.xs[:0]
			a := pts[len(pts)-1]
			for _, b := range pts {
				if (a.y <= sy) != (b.y <= sy) {
					x := a.x + (sy-a.y)*(b.x-a.x)/(b.y-a.y)
					d := 1
					if b.y < a.y {
						d = -1
					}
					r.xs = append(r.xs, crossing{x, d})
				}
				a = b
			}
			slices.SortFunc(r.xs, func(p, q crossing) int { return cmp.Compare(p.x, q.x) })
			wind, start := 0, 0.0
			for _, c := range r.xs {
				if wind == 0 {
					start = c.x // a span opens
				}
				wind += c.dir
				if wind == 0 {
					addSpan(row, start, c.x, wgt)
				}
			}
		}
	}
	return true
}

// addSpan adds weight wgt times the horizontal coverage of [xa, xb) to row.
func addSpan(row []float32, xa, xb, wgt float64) {
	w := float64(len(row))
	xa, xb = max(xa, 0), min(xb, w)
	if xb <= xa {
		return
	}
	ia, ib := int(xa), int(xb)
	if ia == ib {
		row[ia] += float32((xb - xa) * wgt)
		return
	}
	row[ia] += float32((float64(ia+1) - xa) * wgt)
	for i := ia + 1; i < ib; i++ {
		row[i] += float32(wgt)
	}
	if ib < len(row) {
		row[ib] += float32((xb - float64(ib)) * wgt)
	}
}

// take calls f with each touched pixel's coverage (clamped to 1) of the
// last polygon filled, and clears it.
func (r *raster) take(f func(i int, a float32)) {
	for y := r.y0; y < r.y1; y++ {
		row := r.cov[y*r.w+r.x0 : y*r.w+r.x1]
		for k, a := range row {
			if a <= 0 {
				continue
			}
			row[k] = 0
			f(y*r.w+r.x0+k, min(a, 1))
		}
	}
}
