package nn

import (
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

// TestNewPlanRejectsMaxPool checks that the engine refuses a MaxPool layer
// with an error naming the layer's number and kind, both in a small network
// and in VGG11 (whose layer 2 is its first max pool).
func TestNewPlanRejectsMaxPool(t *testing.T) {
	in := arch.Shape{Len: 32, Ch: 2}
	small := arch.Network{Layers: []arch.Layer{
		conv(in, 4, 3, 1, 1, 1),
		{Kind: arch.MaxPool, In: arch.Shape{Len: 32, Ch: 4}, Out: arch.Shape{Len: 16, Ch: 4}, Kernel: 2, Stride: 2},
		dense(arch.Shape{Len: 16, Ch: 4}, arch.Shape{Len: 3, Ch: 1}),
	}}
	small.Layers[0].ReLU = true
	if err := small.Validate(); err != nil {
		t.Fatal(err)
	}
	vgg, err := arch.VGG11(arch.Shape{Len: 2048, Ch: 1}, 5, arch.VGG11Hidden)
	if err != nil {
		t.Fatal(err)
	}
	for _, net := range []arch.Network{small, vgg} {
		_, err := newPlan(net)
		if err == nil {
			t.Fatalf("newPlan(%v) = nil error, want a maxpool1d error", net)
		}
		for _, want := range []string{"layer 2 (maxpool1d ", "maxpool1d layers are not supported by the training engine"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("newPlan(%v) error %q does not contain %q", net, err, want)
			}
		}
		if _, err := NewModel(net, 1); err == nil || !strings.HasPrefix(err.Error(), "nn: layer 2 (maxpool1d ") || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("NewModel(%v) error %v, want the maxpool1d error", net, err)
		}
	}
}

// TestNewPlanHiddenDense checks that the engine accepts hidden Dense
// layers, such as VGG11's classifier: the gradient tests train them too.
func TestNewPlanHiddenDense(t *testing.T) {
	vgg, err := arch.VGG11(arch.Shape{Len: 64, Ch: 1}, 5, 32)
	if err != nil {
		t.Fatal(err)
	}
	tail := arch.Network{Layers: vgg.Layers[len(vgg.Layers)-3:]}
	if err := tail.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := newPlan(tail)
	if err != nil {
		t.Fatalf("newPlan(VGG11 classifier) = %v", err)
	}
	if want := tail.Params(); p.nParams != want {
		t.Errorf("nParams = %d, want arch's %d", p.nParams, want)
	}
}
