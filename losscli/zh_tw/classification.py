"""Traditional Chinese texts of the classification losses (losscli/losses/classification.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "bce": {
        "summary": "二元交叉熵，輸入可為機率或 logits",
        "derivative": "∂ℓ/∂p = (p - y) / max(p (1 - p), 1e-12)（torch 的反向傳播：在 p = 0 或 1 時仍為有限值）；"
        "使用 logits 時 ∂ℓ/∂x = σ(x) - y（w = 1）",
        "convention": "torch.nn.BCELoss（機率輸入，log 截斷於 -100）；from_logits=true 時為 "
        "BCEWithLogitsLoss(pos_weight)",
        "differs": "Keras 不截斷 log，而是把機率裁剪到 [1e-7, 1 - 1e-7]，並先對最後一個軸取平均；"
        "scikit-learn log_loss 則以機器 epsilon 裁剪。",
        "when": "二元或多標籤分類。建議使用 logits：以機率計算的 BCE 會飽和（一旦 σ 被捨入成 0 或 1，梯度就會消失）。",
    },
    "cross-entropy": {
        "summary": "C 個類別上的 softmax 交叉熵",
        "derivative": "∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic}（未加權時）",
        "convention": "torch.nn.functional.cross_entropy（weight、ignore_index=-100、label_smoothing），包括其加權平均",
        "differs": "Keras CategoricalCrossentropy 預設接受機率，且即使有類別權重也是除以 N；"
        "當所有目標都被忽略時，torch 會回傳 NaN（losscli 會拒絕這種輸入）。",
        "when": "從 logits 進行單標籤多類別分類。",
    },
    "sparse-cross-entropy": {
        "summary": "只接受類別索引目標的交叉熵",
        "derivative": "∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic}（未加權時）",
        "convention": "torch.nn.functional.cross_entropy，搭配索引目標",
        "differs": "Keras SparseCategoricalCrossentropy 預設接受機率。",
        "when": "使用整數標籤的多類別分類；會拒絕 one-hot 目標。",
    },
    "focal": {
        "summary": "以 logits 計算的二元 focal loss",
        "derivative": "∂ℓ/∂x = αₜ [γ (1 - pₜ)^(γ-1) ∂(-pₜ)/∂x · ce + (1 - pₜ)^γ (σ(x) - y)]",
        "convention": "torchvision.ops.sigmoid_focal_loss(alpha=0.25, gamma=2)，reduction 取 mean",
        "differs": "optax sigmoid_focal_loss 預設 alpha=None；Keras BinaryFocalCrossentropy "
        "只有在 apply_class_balancing=True 時才套用 alpha。",
        "when": "密集偵測與嚴重的類別不平衡：降低容易樣本的權重。",
    },
}
