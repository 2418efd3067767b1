package quant

import (
	"context"
	"math"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/nn"
)

// TestQATMatchesInteger checks that quantization-aware training trains the
// network that is deployed: the integer model built from its weights and
// ranges scores on the validation data what the fake-quantized forward pass
// scored there when it chose the epoch, within 2 points (its loss within
// 10 %), at int8 and int4.
func TestQATMatchesInteger(t *testing.T) {
	shape := arch.Shape{Len: 256, Ch: 1}
	train, val := tones(600, shape, 1), tones(300, shape, 2)
	net := mustParse(t, "256x1-64x4-16x4-5/o2")
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.LR = 6, 0.003
	float, err := nn.Native().Train(context.Background(), net, train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, bits := range []int{8, 4} {
		cfg.QATBits, cfg.Init, cfg.Epochs, cfg.LR = bits, float.Model, 4, 0.001
		res, err := nn.Native().Train(context.Background(), net, train, val, cfg)
		if err != nil {
			t.Fatal(err)
		}
		qm, err := FromFloat(res.Model, res.Ranges, bits)
		if err != nil {
			t.Fatal(err)
		}
		met, err := Evaluate(qm, val)
		if err != nil {
			t.Fatal(err)
		}
		fake := res.History[res.Best].ValAcc
		t.Logf("int%d: fake-quantized validation %.3f, integer %.3f (float %.3f)", bits, fake, met.Accuracy, float.History[float.Best].ValAcc)
		if math.Abs(met.Accuracy-fake) > 0.02 {
			t.Errorf("int%d: integer validation accuracy %.3f, QAT's fake-quantized %.3f: want within 2 points", bits, met.Accuracy, fake)
		}
		// The integer network's loss (of its dequantized scores) is the
		// fake-quantized one's, up to the rounding of the logits.
		fakeLoss := res.History[res.Best].ValLoss
		t.Logf("int%d: loss fake-quantized %.4f, integer %.4f", bits, fakeLoss, met.Loss)
		if !(met.Loss > 0) || math.Abs(met.Loss-fakeLoss) > 0.1*fakeLoss {
			t.Errorf("int%d: integer validation loss %.4f, QAT's fake-quantized %.4f: want within 10 %%", bits, met.Loss, fakeLoss)
		}
	}
}
