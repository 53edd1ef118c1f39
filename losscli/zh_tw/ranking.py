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
        "∂ℓᵢ/∂nᵢ = (aᵢ - nᵢ + eps)/d(aᵢ, nᵢ)，∂ℓᵢ/∂aᵢ = -∂ℓᵢ/∂pᵢ - ∂ℓᵢ/∂nᵢ；餘弦距離：∂cos(u, v)/∂u = "
        "v/(‖u‖‖v‖) - cos(u, v) u/‖u‖²（eps 下限只改變數值，與 torch 相同）；未作用時為 0",
        "convention": "torch.nn.TripletMarginLoss(margin=1.0, p=2, eps=1e-6, swap=False)"
        "（pairwise_distance 會把 eps 加到差值上）；distance=cosine：torch.nn.TripletMarginWithDistanceLoss("
        "distance_function=lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1), margin=1.0, swap=False)",
        "differs": "optax triplet_margin_loss 與許多論文把 eps 放在別處（或完全不加），"
        "並在正規化後的嵌入向量上使用 0.05-0.2 的邊界；FaceNet 使用平方距離；pytorch-metric-learning "
        "TripletMarginLoss 會從有標籤的批次中挖掘所有三元組，並只對非零者取平均。"
        "torch 的 cosine_similarity 把每個範數的下限設為 eps，但梯度不經過這個下限"
        "（F.normalize 的下限則有梯度）。",
        "when": "以三元組進行度量學習（人臉辨識、檢索）；distance=cosine 適用於以方向比較的嵌入向量。",
    },
    "bpr": {
        "summary": "以（正、負）項目分數計算的貝氏個人化排序（Bayesian personalised ranking）損失",
        "derivative": "∂ℓᵢ/∂posᵢ = -σ(negᵢ - posᵢ);  ∂ℓᵢ/∂negᵢ = σ(negᵢ - posᵢ)",
        "convention": "-torch.nn.functional.logsigmoid(pos - neg).mean()（Rendle et al. 2009）",
        "differs": "RecBole BPRLoss 計算 -log(gamma + sigmoid(pos - neg))，其中 gamma = 1e-10，"
        "這會使損失的上限約為 23，並損失精度；此處使用數值穩定的 log-sigmoid，則不會如此。",
        "when": "隱式回饋推薦：把已觀察到的項目排在抽樣而得的未觀察項目之前。",
    },
    "dpo": {
        "summary": "直接偏好最佳化（TRL DPOTrainer），以被選與被拒回應的對數機率計算",
        "derivative": "∂ℓᵢ/∂chosenᵢ = -∂ℓᵢ/∂rejectedᵢ = ∂ℓᵢ/∂Δᵢ;  sigmoid：∂ℓᵢ/∂Δᵢ = -(1 - ε) β σ(-βΔᵢ) + ε β σ(βΔᵢ);  "
        "hinge：βΔᵢ < 1 時為 -β，否則為 0;  ipo：2 (Δᵢ - 1/(2β))；參考模型的輸入沒有梯度（凍結）",
        "convention": "TRL DPOTrainer.dpo_loss（trl/trainer/dpo_trainer.py；beta=0.1、loss_type='sigmoid'、"
        "label_smoothing=0、reference_free=False），輸入依其順序：chosen_logps、rejected_logps、"
        "ref_chosen_logps、ref_rejected_logps；ε = 0 的 sigmoid 就是對以 beta 縮放的對數比值差做 BPR："
        "bpr(pos = β(chosen - ref_chosen), neg = β(rejected - ref_rejected))",
        "differs": "TRL 以各 token 對數機率的總和作為對數機率，唯有 ipo 使用每個 token 的平均"
        "（因此 ipo 請給平均值）；最新版 TRL 把標籤平滑從 sigmoid 移到只有 robust 使用；"
        "TRL 回報的獎勵是 β(策略 - 參考) 的對數比值，與此處相同。",
        "when": "以（被選、被拒）配對對語言模型做偏好微調，並以凍結的參考模型約束；"
        "策略等於參考模型時，損失應從 log 2（≈ 0.693）附近開始。",
    },
    "infonce": {
        "summary": "InfoNCE / NT-Xent 對比損失，以同一批樣本的兩個視圖計算（SimCLR）",
        "derivative": "∂ℓ_a/∂s_ap = -(1 - q_ap)，對每個負樣本 n：∂ℓ_a/∂s_an = q_an（q：正樣本與負樣本上的 "
        "softmax），再經由 s = x̂_a·x̂_j/τ 與 x̂ = x/‖x‖ 傳回",
        "convention": "pytorch-metric-learning SelfSupervisedLoss(NTXentLoss(temperature=0.07), symmetric=True)，"
        "搭配其 CosineSimilarity（F.normalize，eps 1e-12）",
        "differs": "optax ntxent 把兩個視圖當成一個批次，標籤為兩次 0..N-1（即此處的 ntxent 損失），"
        "得到相同的平均值；其 cosine_similarity 把範數下限設為 finfo.eps（低於它時沒有梯度），"
        "且對數內沒有 tiny；SimCLR 論文使用 τ = 0.5；CLIP 與 MoCo 只對單一方向取平均（symmetric=false）。",
        "when": "以每個樣本的兩種資料擴增做自監督對比學習（SimCLR、MoCo）。",
    },
    "ntxent": {
        "summary": "NT-Xent 對比損失，以一個帶標籤的嵌入向量批次計算（標籤相同者為正樣本）",
        "derivative": "∂ℓ_ap/∂s_ap = -(1 - q_ap)，對每個負樣本 n：∂ℓ_ap/∂s_an = q_an（q：正樣本與負樣本上的 "
        "softmax），再經由 s = x̂_a·x̂_j/τ 與 x̂ = x/‖x‖ 傳回",
        "convention": "pytorch-metric-learning NTXentLoss(temperature=0.07)(embeddings, labels)，搭配其 "
        "CosineSimilarity（F.normalize，eps 1e-12）與對正樣本配對取平均的 MeanReducer",
        "differs": "optax ntxent(embeddings, labels, temperature=0.07) 計算相同的配對與平均，但其 "
        "cosine_similarity 把範數下限設為 finfo.eps（低於它時沒有梯度），而非 F.normalize 的 1e-12，"
        "且對數內沒有 tiny。錨點的其他正樣本不計入每個配對的分母（SupCon 的分母則保留它們）。",
        "when": "以類別標籤做對比學習，或把兩個視圖寫成一個帶標籤的批次。",
    },
    "supcon": {
        "summary": "監督式對比損失（SupCon），以帶標籤的嵌入向量計算",
        "derivative": "對 j ≠ a：∂ℓ_a/∂s_aj = q_aj - [j ∈ P(a)]/|P(a)|（q：k ≠ a 上的 softmax），再加上 a "
        "作為其他錨點的正樣本或負樣本時的項；然後經由 s = x̂_a·x̂_j/τ 與 x̂ = x/‖x‖ 傳回",
        "convention": "pytorch-metric-learning SupConLoss(temperature=0.1) 搭配其 CosineSimilarity 與 "
        "AvgNonZeroReducer（沒有正樣本的錨點得 0，且不計入平均）",
        "differs": "Khosla 等人的參考實作（HobbitLong/SupContrast SupConLoss）接受形狀為 "
        "[bsz, n_views, d] 且已正規化的特徵（它不做正規化），乘上 temperature/base_temperature"
        "（預設 0.07/0.07 = 1），並對所有錨點取平均（沒有正樣本的錨點在那裡得 NaN，較新版本則得 0）。",
        "when": "監督式表示學習：一次把所有同類別的配對拉近。",
    },
}
