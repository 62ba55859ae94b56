package actors

import "fmt"

// stackExtras appends sample v's per-view masks and second images to the
// batch, position by position. It runs before v's index is appended, so
// an empty out.Indices means v is the batch's first sample and fixes
// which positions carry masks or second images: every later sample must
// carry the same, with the same sizes, so that mask row j always belongs
// to out.Indices[j].
func stackExtras(out *Batch, v *Views) error {
	if len(out.Indices) == 0 {
		for i, x := range v.Views {
			if x.Mask != nil {
				if out.Masks == nil {
					out.Masks = make([]BatchMask, len(v.Views))
				}
				out.Masks[i] = BatchMask{H: x.Mask.H, W: x.Mask.W, Data: make([]uint8, 0, len(x.Mask.Data))}
			}
			if x.Second != nil {
				if out.Seconds == nil {
					out.Seconds = make([]BatchView, len(v.Views))
				}
				s := x.Second
				out.Seconds[i] = BatchView{C: s.C, H: s.H, W: s.W, Data: make([]float32, 0, len(s.Data))}
			}
		}
	}
	for i, x := range v.Views {
		if err := stackMask(out, i, x.Mask); err != nil {
			return fmt.Errorf("sample %d view %d: %w", v.Index, i, err)
		}
		if err := stackSecond(out, i, x.Second); err != nil {
			return fmt.Errorf("sample %d view %d: %w", v.Index, i, err)
		}
	}
	return nil
}

func stackMask(out *Batch, i int, m *Mask) error {
	want := out.Masks != nil && out.Masks[i].H > 0
	switch {
	case m == nil && !want:
		return nil
	case m == nil || !want:
		return fmt.Errorf("has a mask: %v, the batch's first sample: %v", m != nil, want)
	}
	bm := &out.Masks[i]
	if m.H != bm.H || m.W != bm.W || len(m.Data) != m.H*m.W {
		return fmt.Errorf("mask %dx%d (%d values), batch has %dx%d", m.H, m.W, len(m.Data), bm.H, bm.W)
	}
	bm.Data = append(bm.Data, m.Data...)
	bm.N++
	return nil
}

func stackSecond(out *Batch, i int, s *View) error {
	want := out.Seconds != nil && out.Seconds[i].C > 0
	switch {
	case s == nil && !want:
		return nil
	case s == nil || !want:
		return fmt.Errorf("has a second image: %v, the batch's first sample: %v", s != nil, want)
	}
	bs := &out.Seconds[i]
	if s.C != bs.C || s.H != bs.H || s.W != bs.W || len(s.Data) != s.C*s.H*s.W {
		return fmt.Errorf("second image %dx%dx%d, batch has %dx%dx%d", s.C, s.H, s.W, bs.C, bs.H, bs.W)
	}
	bs.Data = append(bs.Data, s.Data...)
	bs.N++
	return nil
}
