package search

import (
	"strconv"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
)

// Status says what became of a candidate.
type Status string

const (
	// Valid candidates fit Flash, RAM and the energy limit.
	Valid Status = "valid"
	// OverEnergy candidates fit Flash and RAM but exceed the energy limit;
	// they stay in the population with a penalised fitness.
	OverEnergy Status = "over_energy"
	// Abandoned candidates fit Flash or RAM at no split point; they are
	// dropped without training.
	Abandoned Status = "abandoned"
)

// Candidate is one evaluated architecture. Distinct genomes that decode to
// the same architecture share one Candidate, trained once.
type Candidate struct {
	ID         int         `json:"id"`         // order of first evaluation, from 0
	Generation int         `json:"generation"` // generation it first appeared in, from 0
	Arch       string      `json:"arch"`
	Genome     arch.Genome `json:"genome"` // the first genome that decoded to it
	// LR is the learning rate the search chose for it (Config.LearningRates);
	// 0 when the search does not choose one (Config.Train.LR applies).
	LR     float64 `json:"lr,omitempty"`
	Status Status  `json:"status"`
	Why    string  `json:"why,omitempty"` // for abandoned and over-energy candidates
	Params int     `json:"params"`
	MACs   int     `json:"macs"`
	// The best split point for the scenario (for the sequential strategy
	// during the search: the whole network on the edge) and its costs.
	Partition  int     `json:"partition"`
	FlashBytes int     `json:"flash_bytes"`
	RAMBytes   int     `json:"ram_bytes"`
	EEdge      float64 `json:"e_edge_mj"`
	ETotal     float64 `json:"e_total_mj"`
	Energy     float64 `json:"energy_mj"` // the scenario's objective: EEdge or ETotal
	// Accuracies on the two halves of the validation split: A is the
	// search's fitness, B picks the final model. Zero when abandoned.
	ValAccuracy  float64 `json:"val_accuracy"`
	ValBAccuracy float64 `json:"val_b_accuracy"`
	// Mean cross-entropy on each half (the networks' as deployed), which
	// orders candidates of equal accuracy (Config.Ties).
	ValLoss   float64 `json:"val_loss,omitempty"`
	ValBLoss  float64 `json:"val_b_loss,omitempty"`
	BestEpoch int     `json:"best_epoch,omitempty"` // 1-based
	// Epochs is the length of the training its scores come from: the
	// search's epochs, or with successive halving the last rung's it
	// reached. 0 when abandoned.
	Epochs       int     `json:"epochs,omitempty"`
	TrainSeconds float64 `json:"train_seconds,omitempty"`
}

// setScores records a training's validation scores.
func (c *Candidate) setScores(sc scores) {
	c.ValAccuracy, c.ValBAccuracy, c.ValLoss, c.ValBLoss = sc.a, sc.b, sc.lossA, sc.lossB
}

// Key identifies what is trained: the architecture's text form and, when
// the search chooses it, the learning rate ("…-5/o2@lr=0.003"). Candidates
// are cached, and their training seeds derived, by Key.
func (c Candidate) Key() string { return candidateKey(c.Arch, c.LR) }

func candidateKey(archText string, lr float64) string {
	if lr == 0 {
		return archText
	}
	return archText + "@lr=" + strconv.FormatFloat(lr, 'g', -1, 64)
}

// Generation summarises one generation's population after evaluation.
type Generation struct {
	Index int `json:"generation"` // from 0
	// Trained is the number of architectures trained in this generation
	// (new ones; repeats come from the cache); Abandoned those dropped for
	// Flash or RAM while the population was filled.
	Trained   int `json:"trained"`
	Abandoned int `json:"abandoned"`
	// TrainedPerRung counts the trainings at each rung of successive
	// halving (the first equals Trained); absent without halving.
	TrainedPerRung []int `json:"trained_per_rung,omitempty"`
	// Fitness is validation-A accuracy, penalised for energy violators.
	BestFitness   float64 `json:"best_fitness"`
	MedianFitness float64 `json:"median_fitness"`
	// Accuracies of the population (validation half A), as in the paper's
	// Fig. 8.
	BestValAccuracy float64 `json:"best_val_accuracy"`
	MeanValAccuracy float64 `json:"mean_val_accuracy"`
	ValidShare      float64 `json:"valid_share"` // share of the population within every budget
	BestArch        string  `json:"best_arch"`   // the fittest member
	Seconds         float64 `json:"seconds"`
}

// Best is the final model: the valid candidate with the highest
// validation-B accuracy, scored once on the test split.
type Best struct {
	Arch         string  `json:"arch"`
	Partition    int     `json:"partition"`
	ValAccuracy  float64 `json:"val_accuracy"`   // validation half A
	ValBAccuracy float64 `json:"val_b_accuracy"` // validation half B, which chose it
	TestAccuracy float64 `json:"test_accuracy"`
	TestMacroF1  float64 `json:"test_macro_f1"`
	Params       int     `json:"params"`
	MACs         int     `json:"macs"`
	FlashBytes   int     `json:"flash_bytes"`
	RAMBytes     int     `json:"ram_bytes"`
	EEdge        float64 `json:"e_edge_mj"`
	ETotal       float64 `json:"e_total_mj"`
	// Scores for imbalanced test sets: balanced accuracy (mean recall)
	// and, per class, sensitivity and positive predictivity (AAMI EC57).
	TestBalancedAccuracy float64          `json:"test_balanced_accuracy"`
	TestPerClass         []nn.ClassScores `json:"test_per_class"`
	// TestConfusion[i][j] counts test samples of class i predicted as j.
	TestConfusion [][]int `json:"test_confusion"`
	// The network's layers and every split point on the profile (the
	// paper's Fig. 7), for the report.
	Layers     []partition.Layer `json:"layers"`
	Partitions []partition.Point `json:"partitions"`
	Model      string            `json:"model"` // file name of the trained model, in the output directory
	// Final, when the search ran a final training (Config.FinalEpochs),
	// records its runs; the chosen run's model is the one scored on the
	// test split and saved. ValAccuracy and ValBAccuracy above stay the
	// search-time scores of the candidate.
	Final *Final `json:"final,omitempty"`
	// CV, with Config.CVFolds, is the cross-validation that chose this
	// candidate among the first of the pick order.
	CV *CrossValidation `json:"cv,omitempty"`
	// Precision is the edge precision the network is costed and deployed
	// at (the profile's): "float32", "int8" or "int4". With an integer
	// one, Quantized compares the float weights with the integer network,
	// whose scores the validation and test fields above are.
	Precision string     `json:"precision"`
	Quantized *Quantized `json:"quantized,omitempty"`
	// Pruned, with Config.Prune, is the winner after pruning and
	// fine-tuning; the fields above stay those of the unpruned network.
	Pruned *Pruned `json:"pruned,omitempty"`
}

// Quantized records how the chosen network was quantized, and its float
// weights' test scores beside the integer network's.
type Quantized struct {
	Precision                 string  `json:"precision"`   // "int8" or "int4"
	WeightBits                int     `json:"weight_bits"` // 8 or 4; activations int8
	Method                    string  `json:"method"`      // "qat" or "ptq"
	FloatTestAccuracy         float64 `json:"float_test_accuracy"`
	FloatTestBalancedAccuracy float64 `json:"float_test_balanced_accuracy"`
	Model                     string  `json:"model,omitempty"` // the integer network's file (.snqm), in the output directory
}

// Final is the final training of the chosen architecture: several runs
// from scratch with a longer schedule, one picked by validation half B.
type Final struct {
	Epochs int        `json:"epochs"`
	Runs   []FinalRun `json:"runs"`
	Chosen int        `json:"chosen"` // index into Runs: the best validation-B score; on a tie the lower validation-B loss (Settings.Ties "loss"), then the first
}

// FinalRun is one run of the final training.
type FinalRun struct {
	Seed         uint64  `json:"seed"`
	BestEpoch    int     `json:"best_epoch"`           // 1-based, chosen by validation half A
	ValAccuracy  float64 `json:"val_accuracy"`         // validation half A, at BestEpoch
	ValBAccuracy float64 `json:"val_b_accuracy"`       // validation half B, which picks the run
	ValLoss      float64 `json:"val_loss,omitempty"`   // mean cross-entropy on half A
	ValBLoss     float64 `json:"val_b_loss,omitempty"` // on half B: breaks ties of ValBAccuracy (Config.Ties)
	Seconds      float64 `json:"seconds"`
}

// Settings records what a search was run with.
type Settings struct {
	Strategy string `json:"strategy"`
	// Data names the dataset (its path, or the embedded sample's name);
	// DataSHA256 is its content hash (dataset.Dataset.Hash). A resume
	// compares the hash, not the name, so a moved file still resumes.
	Data       string   `json:"data"`
	DataSHA256 string   `json:"data_sha256"`
	Classes    []string `json:"classes"`
	// Profile is the device profile's name; ProfileSHA256 the hash of its
	// contents (all but the description), so an edited profile file with
	// the same name is noticed.
	Profile       string  `json:"profile"`
	ProfileSHA256 string  `json:"profile_sha256"`
	Scenario      string  `json:"scenario"`
	FogFactor     float64 `json:"fog_factor,omitempty"`
	FogDevice     string  `json:"fog_device,omitempty"`
	FlashLimit    int64   `json:"flash_limit_bytes"`
	RAMLimit      int64   `json:"ram_limit_bytes"`
	EnergyLimitMJ float64 `json:"energy_limit_mj"` // 0: none
	Population    int     `json:"population"`
	Generations   int     `json:"generations"`
	Epochs        int     `json:"epochs"`
	Batch         int     `json:"batch"`
	LR            float64 `json:"lr"`
	Dropout       float64 `json:"dropout"`
	Patience      int     `json:"patience,omitempty"`
	FinalEpochs   int     `json:"final_epochs,omitempty"`
	FinalSeeds    int     `json:"final_seeds,omitempty"`
	FinalEMA      float64 `json:"final_ema,omitempty"` // decay of the final runs' weight average (0: none)
	CVFolds       int     `json:"cv_folds,omitempty"`  // cross-validation of the shortlist (Config.CVFolds; 0: none)
	CVTop         int     `json:"cv_top,omitempty"`
	Elite         int     `json:"elite"`
	Tournament    int     `json:"tournament"`
	CrossoverRate float64 `json:"crossover_rate"`
	MutationRate  float64 `json:"mutation_rate"`
	Seed          uint64  `json:"seed"`
	Space         string  `json:"space"` // slots, lengths, channels, kernel rule and searched overlaps
	// LearningRates are the learning rates the search chooses from (LR is
	// then the first); empty when it trains every candidate at LR.
	LearningRates []float64 `json:"learning_rates,omitempty"`
	// ValHalves says how the validation split was halved into A (fitness)
	// and B (choice of the final model): "records" — whole records to each
	// half, when no validation record is also a training record (data
	// split by record or patient) — or "samples", stratified by class.
	ValHalves string `json:"val_halves"`
	// Halving is the successive-halving schedule, if any: the epochs of
	// each rung, and the reduction factor.
	RungEpochs []int `json:"rung_epochs,omitempty"`
	Eta        int   `json:"eta,omitempty"`
	// Metric is what the validation scores of candidates (val_accuracy,
	// val_b_accuracy) measure: "accuracy" or "balanced" accuracy.
	Metric string `json:"metric"`
	// Ties orders candidates of equal score: "loss" (lower validation
	// loss first) or "energy".
	Ties string `json:"ties"`
	// PickBy is the validation score that picked the final model among
	// the candidates: "b" (half B) or "ab" (mean of both halves).
	PickBy string `json:"pick_by"`
	Recipe Recipe `json:"recipe"`
	// Precision is the profile's edge precision; Quant, on an integer
	// one, the quantization method ("qat" or "ptq").
	Precision string `json:"precision"`
	Quant     string `json:"quant,omitempty"`
	// Objectives and ParetoMax are the NSGA2 strategy's (absent for the
	// others): what it optimised, and the cap on the finished Pareto set.
	Objectives []string `json:"objectives,omitempty"`
	ParetoMax  int      `json:"pareto_max,omitempty"`
	// Prune is the pruning applied to the winner, if any.
	Prune *Pruning `json:"prune,omitempty"`
}

// Recipe is the training recipe every candidate is trained with (package
// nn's Config), beyond epochs, batch, learning rate and dropout.
type Recipe struct {
	ClassBalance    string  `json:"class_balance"`
	Schedule        string  `json:"schedule"`
	WarmupEpochs    int     `json:"warmup_epochs,omitempty"`
	WeightDecay     float64 `json:"weight_decay,omitempty"`
	AugmentShift    int     `json:"augment_shift,omitempty"`
	AugmentScale    float64 `json:"augment_scale,omitempty"`
	AugmentWander   float64 `json:"augment_wander,omitempty"`
	AugmentNoise    float64 `json:"augment_noise,omitempty"`
	BatchNorm       bool    `json:"batch_norm,omitempty"`
	SamplesPerEpoch int     `json:"samples_per_epoch,omitempty"`
	EMA             float64 `json:"ema,omitempty"` // decay of the weight average (nn.Config.EMA; 0: none)
	// The distillation teacher, if any: its architecture and the hash of
	// its file form, the temperature and the weight of its term.
	Teacher       string  `json:"teacher,omitempty"`
	TeacherSHA256 string  `json:"teacher_sha256,omitempty"`
	Temperature   float64 `json:"temperature,omitempty"`
	Alpha         float64 `json:"alpha,omitempty"`
}

// Result is what a search produces; it is written as result.json.
type Result struct {
	Settings Settings `json:"settings"`
	// Best is the final model. For the NSGA2 strategy it is the member of
	// the Pareto set with the highest selection score (validation half B),
	// i.e. the best model with no budget beyond the search's.
	Best *Best `json:"best"`
	// Pareto is the NSGA2 strategy's final Pareto set; nil for the others.
	Pareto     *Pareto      `json:"pareto,omitempty"`
	History    []Generation `json:"history"`
	Candidates []Candidate  `json:"candidates"`
	Seconds    float64      `json:"seconds"`
}

// Pareto is the final Pareto set of an NSGA2 search: the feasible
// candidates (within every budget) that no other feasible candidate
// dominates on the search's objectives, over every candidate evaluated
// (with successive halving, only those trained for the full epochs, if
// any). Each member is finished as a single-objective search's winner is:
// final training if configured, scored once on the test split, saved.
type Pareto struct {
	Objectives []string `json:"objectives"`
	// Found is the size of the set before the cap; when it exceeds Max,
	// Capped is true and Members holds the Max members ParetoCap keeps
	// (thinned by crowding distance).
	Found   int            `json:"found"`
	Max     int            `json:"max"`
	Capped  bool           `json:"capped"`
	Note    string         `json:"note,omitempty"`
	Members []ParetoMember `json:"members"` // by energy ascending
}

// ParetoMember is one finished member of the Pareto set: its candidate's
// ID, the scenario's energy (the objective, E_edge or E_total) and
// everything a single-objective search's Best records. Model names its
// own files (pareto-<id>.model, pareto-<id>.snqm).
type ParetoMember struct {
	Candidate int     `json:"candidate"`
	EnergyMJ  float64 `json:"energy_mj"`
	Best
}
