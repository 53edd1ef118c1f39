"""Traditional Chinese texts of the embedding, ranking and preference losses (losscli/losses/metric.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "contrastive": {
        "summary": "對比（孿生網路，siamese）成對損失，標籤 1 = 相似",
        "derivative": "∂ℓᵢ/∂x1ᵢ = yᵢ (x1ᵢ - x2ᵢ) - (1 - yᵢ) max(0, m - D) (x1ᵢ - x2ᵢ)/D;  ∂/∂x2ᵢ = -∂/∂x1ᵢ"
        "（對 D = 0 的不相似配對為 0，此時方向未定義）",
        "convention": "Hadsell, Chopra & LeCun 2006，但標籤反轉（1 = 相似，與多數程式碼相同）；"
        "pytorch-metric-learning ContrastiveLoss 不同：使用未平方的 hinge [D - pos_margin]₊ + "
        "[neg_margin - D]₊，並只對非零項取平均",
        "differs": "論文以 Y = 1 表示不相似的配對；有些程式碼省略 ½，或用 D 取代 D²；"
        "torch 的 CosineEmbeddingLoss 是另一種（以餘弦為基礎的）損失。",
        "when": "孿生網路：把相似的配對拉近，把不相似的配對推開至少 m 的距離。",
    },
    "triplet": {
        "summary": "以（錨點、正樣本、負樣本）嵌入向量計算的三元組邊界（margin）損失",
        "derivative": "對作用中的三元組（ℓᵢ > 0），p = 2：∂ℓᵢ/∂pᵢ = -(aᵢ - pᵢ + eps)/d(aᵢ, pᵢ)，"
        "∂ℓᵢ/∂nᵢ = (aᵢ - nᵢ + eps)/d(aᵢ, nᵢ)，∂ℓᵢ/∂aᵢ = -∂ℓᵢ/∂pᵢ - ∂ℓᵢ/∂nᵢ；未作用時為 0",
        "convention": "torch.nn.TripletMarginLoss(margin=1.0, p=2, eps=1e-6, swap=False)"
        "（pairwise_distance 會把 eps 加到差值上）",
        "differs": "optax triplet_margin_loss 與許多論文把 eps 放在別處（或完全不加），"
        "並在正規化後的嵌入向量上使用 0.05-0.2 的邊界；FaceNet 使用平方距離。",
        "when": "以三元組進行度量學習（人臉辨識、檢索）。",
    },
    "bpr": {
        "summary": "以（正、負）項目分數計算的貝氏個人化排序（Bayesian personalised ranking）損失",
        "derivative": "∂ℓᵢ/∂posᵢ = -σ(negᵢ - posᵢ);  ∂ℓᵢ/∂negᵢ = σ(negᵢ - posᵢ)",
        "convention": "-torch.nn.functional.logsigmoid(pos - neg).mean()（Rendle et al. 2009）",
        "differs": "RecBole BPRLoss 計算 -log(gamma + sigmoid(pos - neg))，其中 gamma = 1e-10，"
        "這會使損失的上限約為 23，並損失精度；此處使用數值穩定的 log-sigmoid，則不會如此。",
        "when": "隱式回饋推薦：把已觀察到的項目排在抽樣而得的未觀察項目之前。",
    },
}
