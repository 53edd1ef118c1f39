"""Traditional Chinese texts of the classification losses (losscli/losses/classification.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

_ALL_IGNORED = (
    "當所有目標都被忽略（或類別權重總和為 0）時，torch 的 mean 會是 NaN：losscli 拒絕計算 mean，"
    "而 --reduction sum 或 none 會像 torch 一樣給出 0。"
)

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "bce": {
        "summary": "二元交叉熵，輸入可為機率或 logits",
        "derivative": "∂ℓ/∂p = (p - y) / max(p (1 - p), 1e-12)（torch 的反向傳播：在 p = 0 或 1 時仍為有限值）；"
        "使用 logits 時 ∂ℓ/∂x = σ(x) - y（w = 1）；再乘上權重 v",
        "convention": "torch.nn.BCELoss(weight)（機率輸入，log 截斷於 -100）；from_logits=true 時為 "
        "BCEWithLogitsLoss(weight, pos_weight)（和 torch 一樣接受任何實數目標）；label_smoothing 依 "
        "Keras BinaryCrossentropy",
        "differs": "Keras 不截斷 log，而是把機率裁剪到 [1e-7, 1 - 1e-7]，並先對最後一個軸取平均；"
        "scikit-learn log_loss 則以機器 epsilon 裁剪。torch 的 weight 可以是任何能廣播到輸入的張量："
        "這裡是沿最後一個軸廣播的逗號列表（逐列權重請用 --sample-weights，它改為除以權重總和）。",
        "when": "二元或多標籤分類。建議使用 logits：以機率計算的 BCE 會飽和（一旦 σ 被捨入成 0 或 1，梯度就會消失）。",
    },
    "cross-entropy": {
        "summary": "C 個類別上的 softmax 交叉熵",
        "derivative": "∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic}（未加權時）",
        "convention": "torch.nn.functional.cross_entropy（weight、ignore_index=-100、label_smoothing），"
        "包括其加權平均、K 維形式與無批次形式；from_logits=false 時為 torch nll_loss(log p)，"
        "直接使用給定的機率（各列不重新正規化）",
        "differs": "Keras CategoricalCrossentropy 預設接受機率，會把每列除以其總和並裁剪到 [1e-7, 1 - 1e-7]"
        "（-p normalize=true），且即使有類別權重也是除以 N；" + _ALL_IGNORED,
        "when": "從 logits 進行單標籤多類別分類；影像分割（N x C x H x W）。",
    },
    "sparse-cross-entropy": {
        "summary": "只接受類別索引目標的交叉熵",
        "derivative": "∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic}（未加權時）",
        "convention": "torch.nn.functional.cross_entropy，搭配索引目標",
        "differs": "Keras SparseCategoricalCrossentropy 預設接受機率（並將其正規化：-p normalize=true）。",
        "when": "使用整數標籤的多類別分類；會拒絕 one-hot 目標。",
    },
    "nll": {
        "summary": "以對數機率計算類別索引的負對數概似",
        "derivative": "∂ℓᵢ/∂x_{ic} = -w_{yᵢ} [c = yᵢ]",
        "convention": "torch.nn.NLLLoss / F.nll_loss(weight, ignore_index=-100)，包括其加權平均、K 維形式與"
        "無批次形式；輸入照原樣使用（torch 不檢查它是否為對數機率）",
        "differs": "cross-entropy = 作用在 log_softmax(logits) 上的 nll。Keras 與 optax 沒有獨立的 nll："
        "SparseCategoricalCrossentropy / softmax_cross_entropy_with_integer_labels 會自行套用 softmax。" + _ALL_IGNORED,
        "when": "模型最後已經是 log_softmax（或直接輸出各類別的對數概似）。",
    },
    "focal": {
        "summary": "以 logits 計算的二元 focal loss",
        "derivative": "∂ℓ/∂x = αₜ [γ (1 - pₜ)^(γ-1) ∂(-pₜ)/∂x · ce + (1 - pₜ)^γ (σ(x) - y)]",
        "convention": "torchvision.ops.sigmoid_focal_loss(alpha=0.25, gamma=2)，reduction 取 mean；"
        "其中 (1 - pₜ)^γ 依 optax.sigmoid_focal_loss 在對數空間計算",
        "differs": "optax sigmoid_focal_loss 預設 alpha=None；Keras BinaryFocalCrossentropy "
        "只有在 apply_class_balancing=True 時才套用 alpha。torchvision 以相減計算 1 - pₜ："
        "在 float64 中 |x| ≳ 37 時為 0，此時 γ < 1 會讓梯度變成 NaN（losscli 與 optax 則為有限值）。",
        "when": "密集偵測與嚴重的類別不平衡：降低容易樣本的權重。",
    },
    "categorical-focal": {
        "summary": "多類別（softmax）focal loss",
        "derivative": "∂ℓ/∂q_c = -α_c ỹ_c [(1 - q_c)^γ / q_c - γ (1 - q_c)^(γ-1) log q_c]（q_c 被裁剪處為 0），"
        "再經由 q = p / Σp（以及 softmax）反向傳播",
        "convention": "keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=False, "
        "label_smoothing=0.0)，reduction 為 sum_over_batch_size（對 N 取平均）；類別索引目標視為其 one-hot 列",
        "differs": "kornia focal_loss 接受 logits 與索引目標，不做裁剪，且所有類別都以同一個 alpha 加權；"
        "Keras 即使從 logits 計算也會把 q 裁剪到 [1e-7, 1 - 1e-7]，所以有信心且正確的 logit 梯度為零；"
        "sigmoid（二元）版本是 focal。",
        "when": "類別不平衡的多類別分類，容易樣本淹沒了損失時。",
    },
    "poly1": {
        "summary": "Poly-1 損失：交叉熵加上 ε (1 - pₜ)",
        "derivative": "∂ℓᵢ/∂z_c = p_c Σy - y_c - ε p_c (y_c - pₜ),  pₜ = Σ_c y_c p_c",
        "convention": "optax.losses.poly_loss_cross_entropy(epsilon=2.0)（Leng et al. 2022），對 N 取平均；"
        "類別索引目標視為其 one-hot 列",
        "differs": "MONAI PolyLoss 預設 epsilon=1.0；論文建議 ImageNet 用 ε = 2、偵測用 ε = -1。"
        "optax 對每個樣本回傳一個值，歸約交給呼叫者。",
        "when": "可直接取代交叉熵，並調整第一個多項式項（ε > 0 會更用力推高 pₜ）。",
    },
    "z-loss": {
        "summary": "作用在 logits 上的 z-loss：z_loss · (log Σ exp z)²，讓 softmax 的正規化常數保持在 1 附近",
        "derivative": "∂ℓᵢ/∂z_{ic} = 2 z_loss · log Zᵢ · softmax(zᵢ)_c",
        "convention": "t5x cross_entropy_with_logits 的輔助 z-loss，z_loss · log(Z)²，與 PaLM 相同（z = 1e-4），"
        "對各列取平均",
        "differs": "t5x 把 z_loss · log²Z 加到每個 token 的損失上，並以 token 權重加權（不含填充）："
        "這裡則對每一列取平均，包括填充。Keras 與 torch 沒有 z-loss；ST-MoE 的 router z-loss "
        "同樣對 router logits 的 log-sum-exp 取平方。",
        "when": "大型 softmax 模型（LLM）：防止 logits 漂移，讓 log Z 保持在 0 附近。",
    },
    "multilabel-soft-margin": {
        "summary": "多標籤一對多的邏輯斯損失，對每列的 C 個標籤取平均",
        "derivative": "∂ℓᵢ/∂x_{ic} = (w_c / C)(σ(x_{ic}) - y_{ic})",
        "convention": "torch.nn.MultiLabelSoftMarginLoss(weight)（preds 為 1-D 時視為一個有 C 個標籤的樣本）；"
        "目標照原樣使用，與 torch 相同",
        "differs": "對同一份資料，bce 加上 -p from_logits=true 的平均值相同（它也除以 N·C）；"
        "兩者在 reduction sum/none 下不同：這個損失每列只保留一個值（其 C 個標籤的平均）。Keras 沒有對應的損失。",
        "when": "多標籤分類，且希望每個樣本（而不是每個標籤）只有一個損失值時。",
    },
}
