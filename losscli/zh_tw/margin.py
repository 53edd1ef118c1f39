"""Traditional Chinese texts of the margin losses (losscli/losses/margin.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "hinge": {
        "summary": "以原始分數計算的二元 hinge 損失",
        "derivative": "若 y p < 1，∂ℓ/∂p = -y；否則為 0（一旦滿足邊界（margin）就成為 dead）",
        "convention": "Keras Hinge：只有當每個標籤都是 0 或 1 時，{0, 1} 標籤才會轉成 {-1, 1}",
        "differs": "optax hinge_loss 要求 ±1 標籤；scikit-learn hinge_loss 是相同的公式。",
        "when": "最大邊界二元分類（線性 SVM）。",
    },
    "squared-hinge": {
        "summary": "平方二元 hinge 損失",
        "derivative": "∂ℓ/∂p = -2 y max(0, 1 - y p)",
        "convention": "Keras SquaredHinge（標籤對應方式與 hinge 相同）",
        "differs": "與 hinge 不同，它在邊界處可微。",
        "when": "與 hinge 類似，但在邊界處平滑，且對大幅違反邊界的情況懲罰更重。",
    },
    "multi-margin": {
        "summary": "多類別 hinge 損失（Weston-Watkins 形式，與 torch 相同）",
        "derivative": "對每個違反邊界的 j ≠ yᵢ，∂ℓᵢ/∂x_{ij} = 1/C；∂ℓᵢ/∂x_{i,yᵢ} = -(違反者的個數)/C（p = 1）",
        "convention": "torch.nn.MultiMarginLoss(p=1, margin=1)",
        "differs": "Keras CategoricalHinge 只使用最大的錯誤類別分數，max(0, 1 + max_{j≠y} x_j - x_y)，而且不除以 C。",
        "when": "SVM 式的多類別訓練；所有邊界都滿足後損失即為零。",
    },
}
