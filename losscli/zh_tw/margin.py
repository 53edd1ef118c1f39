"""Traditional Chinese texts of the margin losses (losscli/losses/margin.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "hinge": {
        "summary": "以原始分數計算的二元 hinge 損失",
        "derivative": "若 y p < 1，∂ℓ/∂p = -y；否則為 0（一旦滿足邊界（margin）就成為 dead）",
        "convention": "±1 標籤與 {0, 1} 標籤依 Keras Hinge（只有當每個標籤都是 0 或 1 時，{0, 1} 才會轉成 {-1, 1}）；"
        "其他任意兩個標籤值依 sklearn.metrics.hinge_loss（LabelBinarizer(neg_label=-1)：較大的標籤為 +1），"
        "並以 negative_label 與 positive_label 回報",
        "differs": "optax hinge_loss 要求 ±1 標籤；scikit-learn hinge_loss 把單一標籤讀成 -1"
        "（Keras 把全為 1 的標籤當成 +1，此處依 Keras），並把超過兩個標籤當成其多類別 hinge"
        "（此處拒絕：請用 multi-margin 或 categorical-hinge）。",
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
        "derivative": "對每個違反邊界的 j ≠ yᵢ（h_j = m - x_{i,yᵢ} + x_{ij} > 0），∂ℓᵢ/∂x_{ij} = w_{yᵢ} p h_j^(p-1)/C；"
        "∂ℓᵢ/∂x_{i,yᵢ} = -Σ_j（上述各項之和）",
        "convention": "torch.nn.MultiMarginLoss(p=1, margin=1, weight=None)：p 為 1 或 2，任意邊界值，"
        "目標類別的逐類別權重，未分批的 (C,) 輸入搭配 0-d 或 (1,) 目標",
        "differs": "Keras CategoricalHinge 只使用最大的錯誤類別分數，max(0, 1 + max_{j≠y} x_j - x_y)，而且不除以 C；"
        "torch 加權後的平均仍除以 N（cross-entropy 則除以 Σ w_y）。",
        "when": "SVM 式的多類別訓練；所有邊界都滿足後損失即為零。",
    },
    "categorical-hinge": {
        "summary": "只看最大錯誤類別分數的多類別 hinge（Keras）",
        "derivative": "當 neg - pos + 1 > 0：∂ℓᵢ/∂p_c = (1 - y_c)·[c = argmax (1 - y)·p] - y_c；否則為 0",
        "convention": "keras.losses.CategoricalHinge（keras/src/losses/losses.py 的 categorical_hinge），"
        "縮減方式 sum_over_batch_size（= mean）、sum 或 none",
        "differs": "torch MultiMarginLoss 對每個錯誤類別求和並除以 C；在 one-hot 目標下，最大值也包含被歸零的目標項，"
        "所以 neg 不會小於 0（Keras 就是這樣計算的）。",
        "when": "以 one-hot 標籤做多類別最大邊界訓練（Crammer-Singer 形式）。",
    },
    "soft-margin": {
        "summary": "±1 標籤上的 logistic 損失（torch SoftMarginLoss）",
        "derivative": "∂ℓ/∂x = -y σ(-y x)",
        "convention": "torch.nn.SoftMarginLoss（對所有元素取平均）；torch 直接計算 log(1 + exp(-y x))："
        "-y x 超過 709 時為 inf，y x 超過 37 時為 0，losscli 在這些地方仍保持精確",
        "differs": "以 logits 計算、標籤為 (y + 1)/2 的 BCE 是同一個損失；Keras 與 optax 沒有 ±1 形式。",
        "when": "標籤為 ±1 的二元分類，且想要平滑版的 hinge 時。",
    },
    "hinge-embedding": {
        "summary": "距離上的 hinge：相似的配對取 x，不相似的配對取 max(0, m - x)",
        "derivative": "y = 1 時 ∂ℓ/∂x = 1；y = -1 且 x ≤ m 時為 -1（torch 的 clamp_min 包含邊界），否則為 0",
        "convention": "torch.nn.HingeEmbeddingLoss(margin=1.0)，與 ATen 的 hinge_embedding_loss 相同",
        "differs": "contrastive 損失把兩項都平方，並自行計算距離；Keras 與 optax 沒有這種損失。",
        "when": "從標為相似／不相似的配對距離學習嵌入或相似度。",
    },
    "multilabel-margin": {
        "summary": "多標籤 hinge：每個目標類別都要高於其他每個類別（torch）",
        "derivative": "∂ℓᵢ/∂x_c = （違反邊界的配對 (j, c) 個數 - 違反邊界的配對 (c, d) 個數）/ C",
        "convention": "torch.nn.MultiLabelMarginLoss：目標以 -1 補齊，讀法與 torch 相同（重複的索引計算兩次），"
        "(N, C) 或一個未分批的 (C,) 樣本",
        "differs": "multilabel-soft-margin（torch MultiLabelSoftMarginLoss）改用 0/1 指示列，並對每個類別計算 logistic 損失。",
        "when": "依分數排序的多標籤分類，標籤以類別清單給出。",
    },
    "margin-ranking": {
        "summary": "兩個分數上的成對排序 hinge（torch MarginRankingLoss）",
        "derivative": "當 -y (x1 - x2) + margin > 0 時 ∂ℓ/∂x1 = -y、∂ℓ/∂x2 = y，否則為 0",
        "convention": "torch.nn.MarginRankingLoss(margin=0.0)：依位置給 input1、input2、target；三者形狀相同"
        "（torch 拒絕廣播）；y 照原值使用（torch 對任何值都會計算）",
        "differs": "bpr 是它平滑且沒有邊界的對應版本 softplus(x2 - x1)；TF-Ranking 的 pairwise hinge 則接受一串分數與相關性標籤。",
        "when": "從配對學習排序：其中一個項目的分數應比另一個高出一個邊界。",
    },
    "cosine-embedding": {
        "summary": "餘弦配對損失：相似的配對取 1 - cos，不相似的取 max(0, cos - margin)（torch）",
        "derivative": "∂cos/∂x1 = x2/√(…) - cos·x1/(Σ x1² + ε)；∂ℓ/∂cos = -1（y = 1），cos ≥ margin 時為 1（y = -1）",
        "convention": "torch.nn.CosineEmbeddingLoss(margin=0.0)，與 ATen 的 cosine_embedding_loss 相同（Loss.cpp："
        "EPSILON = 1e-12 以 float 儲存，加到每個平方範數上）；依位置給 input1、input2、target",
        "differs": "torch.nn.functional.cosine_similarity 改為把每個範數截在 eps = 1e-8；contrastive 損失使用歐氏距離；"
        "在 torch 中 ±1 以外的目標值計為 0（此處拒絕）。",
        "when": "學習能以餘弦判斷兩個項目是否相似的嵌入。",
    },
}
