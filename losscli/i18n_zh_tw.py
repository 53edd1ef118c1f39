"""Traditional Chinese texts of every registered loss (summary, derivative, convention,
differs, when).  Formulas are shared with English.  tests/test_i18n.py checks that every
registered loss has all five fields here."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ regression
    "mse": {
        "summary": "均方誤差",
        "derivative": "∂L/∂pᵢ = 2 (pᵢ - yᵢ) / N",
        "convention": "torch.nn.MSELoss（= Keras MeanSquaredError、optax squared_error）",
        "differs": "optax l2_loss 與許多教科書會在前面加上 ½ 的係數：½(p - y)²。",
        "when": "高斯雜訊，且大誤差應付出平方級更高的代價時；離群值會主導此損失。",
    },
    "rmse": {
        "summary": "均方根誤差",
        "derivative": "∂L/∂pᵢ = (pᵢ - yᵢ) / (N · L)；當每個殘差都是 0 時未定義（NaN）",
        "convention": "torch MSELoss 的平方根；scikit-learn root_mean_squared_error",
        "differs": "Keras 只把 RMSE 當作評估指標（metric）。--reduction sum 給出 √Σr²（殘差的 L2 範數）；"
        "--reduction none 給出逐元素的 |r|。",
        "when": "以目標值單位表示的 MSE，用於回報結果；其梯度是 MSE 的梯度乘以 1/(2L)。",
    },
    "mae": {
        "summary": "平均絕對誤差",
        "derivative": "∂L/∂pᵢ = sign(pᵢ - yᵢ) / N，殘差為零時為 0（torch：sign(0) = 0）",
        "convention": "torch.nn.L1Loss（= Keras MeanAbsoluteError、scikit-learn mean_absolute_error）",
        "differs": "0 處的次梯度：torch 使用 sign(0) = 0；jax.grad(jnp.abs)(0.) 為 1；教科書允許 [-1, 1] 中的任意值。",
        "when": "拉普拉斯雜訊，或你不希望其主導損失的離群值；得到的是中位數。",
    },
    "huber": {
        "summary": "Huber 損失：在 0 附近為二次，超過 delta 後為線性",
        "derivative": "若 |r| < δ，∂ℓ/∂p = r；否則為 δ · sign(r)",
        "convention": "torch.nn.HuberLoss(delta=1.0)（= Keras Huber、optax huber_loss）",
        "differs": "SmoothL1Loss(beta) = HuberLoss(delta=beta) / beta；兩者只在 1 時一致。",
        "when": "有離群值的迴歸：靠近目標時如同 MSE，遠離目標時如同 MAE；梯度以 δ 為界。",
    },
    "smooth-l1": {
        "summary": "smooth L1 損失（Huber 除以 beta）",
        "derivative": "若 |r| < β，∂ℓ/∂p = r / β；否則為 sign(r)",
        "convention": "torch.nn.SmoothL1Loss(beta=1.0)",
        "differs": "只有在 β = δ = 1 時才等於 Huber；其線性部分的斜率恆為 1（Huber 的斜率為 δ）。",
        "when": "邊界框迴歸（Fast R-CNN）；與 Huber 類似，但外側斜率為 1。",
    },
    "log-cosh": {
        "summary": "誤差之雙曲餘弦的對數",
        "derivative": "∂ℓ/∂p = tanh(r)",
        "convention": "Keras LogCosh / optax log_cosh（穩定形式；不會發生 log(cosh) 溢位）",
        "differs": "直接計算 log(cosh(r)) 時，在 float64 下 |r| > ~710、在 float32 下 ~89 就會溢位成 inf。",
        "when": "平滑版的 Huber：r 小時 ≈ r²/2，r 大時 ≈ |r| - log 2；二次可微。",
    },
    "quantile": {
        "summary": "分位數（pinball）損失",
        "derivative": "若 y > p，∂ℓ/∂p = -q；若 y < p，則為 (1 - q)；在 y = p 處則是 torch 對 max 所選的次梯度",
        "convention": "scikit-learn mean_pinball_loss(alpha=q)",
        "differs": "q = 0.5 時等於 MAE / 2。有些函式庫（TF Addons）把此參數稱為 tau。",
        "when": "預測某個分位數（例如以 q = 0.9 取得上界）而非平均值。",
    },
    "msle": {
        "summary": "均方對數誤差",
        "derivative": "當 p > ε 時，∂ℓ/∂p = 2 (log(1 + p) - log(1 + y)) / (1 + p)；低於 ε 時為 0（已截斷）",
        "convention": "Keras MeanSquaredLogarithmicError（低於 ε = 1e-7 的值視為 ε）",
        "differs": "scikit-learn mean_squared_log_error 遇到負值會直接拒絕，而不是截斷；torch 沒有 MSLE。"
        "Keras 先沿最後一軸取平均，對等長的列而言結果相同。",
        "when": "目標值跨越多個數量級（計數、價格）而相對誤差才重要時；低估的代價高於高估。",
    },
    # -------------------------------------------------------------- classification
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
    "kl-div": {
        "summary": "Kullback-Leibler 散度 KL(targets || preds)",
        "derivative": "∂ℓᵢ/∂q_{ic} = -p_{ic} / q_{ic}；使用 log_input 時 ∂ℓᵢ/∂(log q)_{ic} = -p_{ic}",
        "convention": "torch.nn.functional.kl_div(log q, p, reduction='batchmean') = "
        "scipy.stats.entropy(p, q, axis=1) 對各列取平均",
        "differs": "torch 的 reduction='mean' 是除以 N·C（那不是 KL）；torch 的參數順序是 (log q, p)；"
        "Keras 會把兩者都裁剪到 [1e-7, 1]。1-D 輸入視為單一分佈（對其 C 個類別加總，與 scipy 相同）；torch 的 batchmean 會把 1-D 輸入除以 C。",
        "when": "知識蒸餾與分佈匹配；此處 --reduction mean 就是 batchmean。",
    },
    # ------------------------------------------------------------------ generative
    "gan-discriminator": {
        "summary": "GAN 鑑別器損失（BCE-with-logits，真實樣本對 1、假樣本對 0）",
        "derivative": "∂L/∂D(xᵢ) = -σ(-D(xᵢ)) / n = (σ(D(xᵢ)) - 1) / n;  ∂L/∂D(G(zⱼ)) = σ(D(G(zⱼ))) / m",
        "convention": "torch：F.binary_cross_entropy_with_logits(real, ones) + "
        "F.binary_cross_entropy_with_logits(fake, zeros)（DCGAN；TF-GAN modified_discriminator_loss 需設 "
        "label_smoothing=0，其預設值為 0.25）",
        "differs": "有些程式碼只對串接後的整個批次取一次平均，當 n = m 時數值會減半；"
        "--reduction sum 給出 Σ 真實樣本項 + Σ 假樣本項；none 先列出真實樣本項，再列出假樣本項。",
        "when": "訓練標準（非 Wasserstein）GAN 的鑑別器。",
    },
    "gan-generator": {
        "summary": "GAN 生成器損失，non-saturating（非飽和，預設）或 minimax（極小極大）",
        "derivative": "non-saturating：∂L/∂D(G(zⱼ)) = -σ(-D(G(zⱼ))) / m；minimax：-σ(D(G(zⱼ))) / m",
        "convention": "torch：F.binary_cross_entropy_with_logits(fake, ones)（non-saturating）；"
        "-F.binary_cross_entropy_with_logits(fake, zeros)（minimax）；"
        "TF-GAN modified/minimax_generator_loss",
        "differs": "minimax 形式會飽和：當 D 很有把握地拒絕假樣本（D(G(z)) ≪ 0）時，其梯度 σ(D(G(z))) 會消失；"
        "non-saturating 形式正是因此而提出。",
        "when": "訓練標準 GAN 的生成器；除非是在研究原始的賽局，否則請維持 non-saturating。",
    },
    "wasserstein-critic": {
        "summary": "Wasserstein GAN critic 損失 mean(C(fake)) - mean(C(real))",
        "derivative": "∂L/∂C(xᵢ) = -1/n;  ∂L/∂C(G(zⱼ)) = 1/m（常數：critic 的 Lipschitz 限制，"
        "無論是裁剪還是梯度懲罰，都不屬於此損失）",
        "convention": "WGAN（Arjovsky et al. 2017），與 TF-GAN wasserstein_discriminator_loss / torchgan 相同",
        "differs": "符號慣例不一：有些程式碼改為最大化 mean(C(real)) - mean(C(fake))；"
        "不包含 WGAN-GP 的梯度懲罰。--reduction none 先列出 -C(xᵢ)，再列出 C(G(zⱼ))。",
        "when": "訓練 WGAN 的 critic；其負值是 Wasserstein-1 距離的估計（相差一個 Lipschitz 常數）。",
    },
    "wasserstein-generator": {
        "summary": "Wasserstein GAN 生成器損失 -mean(C(fake))",
        "derivative": "∂L/∂C(G(zⱼ)) = -1/m",
        "convention": "WGAN（Arjovsky et al. 2017），與 TF-GAN wasserstein_generator_loss / torchgan 相同",
        "differs": "與 wasserstein-critic 有相同的符號慣例注意事項。",
        "when": "訓練 WGAN 的生成器。",
    },
    "reconstruction": {
        "summary": "自編碼器／VAE 重建損失，對特徵加總、對樣本平均",
        "derivative": "∂L/∂p_{ij} = e'(p_{ij}, y_{ij}) / N（feature_reduction=mean 時再 ÷ D）："
        "2 (p - y)、sign(p - y) 或 (p - y) / (p (1 - p))",
        "convention": "VAE 慣例（Kingma & Welling 2014；PyTorch VAE 範例："
        "F.binary_cross_entropy(recon, x, reduction='sum') / N、"
        "F.mse_loss(..., reduction='sum') / N）",
        "differs": "torch MSELoss/BCELoss 在 reduction='mean' 時除以 N·D，相當於此處的 feature_reduction=mean；"
        "Keras 的 VAE 範例先對像素加總，再對批次取平均。",
        "when": "自編碼器，以及 VAE ELBO 中的概似項（bce 用於伯努利像素，mse 用於高斯）。",
    },
    "mmd": {
        "summary": "兩組樣本之間的平方最大均值差異（maximum mean discrepancy，高斯核）",
        "derivative": "∂MMD²/∂xᵢ = -(4γ/n²) Σ_{i'} k(xᵢ, xᵢ')(xᵢ - xᵢ') + (4γ/nm) Σⱼ k(xᵢ, yⱼ)(xᵢ - yⱼ)"
        "（有偏估計；γ 視為固定，即使它來自中位數啟發式也一樣）",
        "convention": "Gretton et al. 2012 的 MMD²，搭配 scikit-learn rbf_kernel exp(-γ ‖a - b‖²)；"
        "中位數啟發式 γ = 1 / median ‖a - b‖²，取自合併樣本中所有相異的配對",
        "differs": "有些程式碼把核函數寫成 exp(-‖a - b‖² / (2σ²))（γ = 1/(2σ²)），或取距離（而非平方距離）"
        "的中位數，或在中位數中納入為零的對角線；不偏的 MMD² 可能為負。",
        "when": "比較兩組樣本／分佈（雙樣本檢定、MMD-GAN、領域適應）。",
    },
    # -------------------------------------------------------------------- sequence
    "ctc": {
        "summary": "連結時序分類（connectionist temporal classification）損失（不需對齊的序列標註）",
        "derivative": "∂ℓₙ/∂log p_t(c) = -(1/P) Σ_{s: l'_s = c} α_t(s) β_t(s) / p_t(c)"
        "（即類別 c 在音框 t 的後驗佔有率之負值）；t ≥ Tₙ 時為 0",
        "convention": "torch.nn.functional.ctc_loss(blank=0, reduction='mean', zero_infinity=False)："
        "'mean' 先把每條序列的損失除以其目標長度（截斷為 >= 1），再取平均",
        "differs": "torch 對 log_probs 的反向傳播回傳 exp(log_probs) - 佔有率（這是對 logits 的梯度，"
        "假設接著會經過 log_softmax）；losscli 回報真正的梯度 -佔有率（一旦梯度經過 log_softmax，"
        "例如 from_logits=true，兩者就一致）。Keras CTC 接受 logits（批次維度在前），"
        "並以 0 作為 blank 與填補值；optax ctc_loss 對不可能的對齊給出很大的有限值"
        "（log_epsilon=-1e5），而不是 inf。目標比其輸入更長時會被拒絕，除非 zero_infinity=true。",
        "when": "語音與手寫辨識：逐音框（frame）的輸出、未對齊的標籤序列。",
    },
    "seq2seq": {
        "summary": "序列解碼器的 token 層級交叉熵，忽略填補；並回報困惑度（perplexity）",
        "derivative": "∂ℓ_k/∂z_{kc} = softmax(z_k)_c - ((1 - ε) [c = y_k] + ε/C)；被忽略的 token 為 0",
        "convention": "torch.nn.functional.cross_entropy(preds.reshape(-1, C), targets.reshape(-1), "
        "ignore_index=-100, label_smoothing)（Hugging Face 的 labels 以 -100 表示填補）",
        "differs": "在整個批次中對每個被計入的 token 取平均，而不是先對每條序列平均、再對序列平均；"
        "Keras SparseCategoricalCrossentropy(ignore_class) 亦同。當所有 token 都被忽略時，"
        "torch 會回傳 NaN（losscli 會拒絕這種輸入）。使用標籤平滑時，回報的困惑度是平滑後損失的 exp。"
        "--reduction none 只列出被計入的 token，依列優先（row-major）順序排列。",
        "when": "訓練語言模型、翻譯模型與其他自迴歸解碼器。",
    },
    # ----------------------------------------------------------------------- image
    "dice": {
        "summary": "用於分割遮罩的 soft Dice 損失，逐類別計算",
        "derivative": "∂ℓ_c/∂p = -(2 y (Σp + Σy + s) - (2 Σpy + s)) / (Σp + Σy + s)²；"
        "使用 logits 時再乘以 σ(x)(1 - σ(x))",
        "convention": "segmentation_models_pytorch soft_dice_score（DiceLoss(mode='multilabel', smooth=s)："
        "逐類別在 N、H、W 上加總，s 同時加在分子與分母）",
        "differs": "smp 預設 smooth=0，分母以 eps=1e-7 為下限截斷，並把目標中不存在之類別的損失設為零；"
        "Keras Dice 只在分母加上 1e-7。s > 0 時，空的目標搭配空的預測得到損失 0；"
        "s = 0 時 losscli 會拒絕這種 0/0。",
        "when": "有類別不平衡的分割：以重疊程度為基礎，不受大量真陰性的影響。",
    },
    "iou": {
        "summary": "用於分割遮罩的 soft IoU（Jaccard）損失，逐類別計算",
        "derivative": "令 I = Σpy + s、U = Σp + Σy - Σpy + s：∂ℓ_c/∂p = -(y U - I (1 - y)) / U²",
        "convention": "segmentation_models_pytorch soft_jaccard_score（JaccardLoss(mode='multilabel', smooth=s)）",
        "differs": "smp 預設 smooth=0，分母以 eps=1e-7 為下限截斷，並把不存在的類別設為零。"
        "每個類別的 IoU = Dice / (2 - Dice)，因此其排序與 Dice 相同，但懲罰更重。",
        "when": "以 IoU（Jaccard 指數）評估的分割；此指標的平滑替代函數。",
    },
    "tversky": {
        "summary": "Tversky 損失：對偽陽性與偽陰性分別加權的 Dice",
        "derivative": "令 D = TP + α FP + β FN + s：∂ℓ_c/∂p = -(y D - (TP + s)((1 - α - β) y + α)) / D²",
        "convention": "segmentation_models_pytorch soft_tversky_score（TverskyLoss(alpha=0.5, beta=0.5, gamma=1, "
        "mode='multilabel', smooth=s)；alpha 作用於偽陽性）",
        "differs": "α = β = ½ 等於平滑項為 2s 的 Dice（s = 0 時完全相同）；α = β = 1 等於 IoU。"
        "Keras Tversky(alpha=0.5, beta=0.5) 同樣以 alpha 為偽陽性加權。",
        "when": "漏掉物體的代價高於過度分割的分割任務：調高 beta。",
    },
    "ssim": {
        "summary": "1 - SSIM（結構相似度），高斯視窗，不做填補",
        "derivative": "透過濾波運算的自動微分求得（與帶狀高斯矩陣的矩陣乘積）",
        "convention": "pytorch_msssim ssim（loss = 1 - ssim(X, Y, data_range=R, size_average=True, win_size=11, "
        "win_sigma=1.5, K=(0.01, 0.03))；--reduction none 給出 1 - 其逐通道 SSIM）",
        "differs": "pytorch_msssim 預設 data_range=255，並以 float32 建立視窗（數值一致到 ~1e-6）；"
        "skimage structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False) "
        "以 reflect 填補後濾波，再裁掉 5 像素寬的邊框，得到相同的值；"
        "kornia SSIMLoss 回傳 (1 - SSIM) / 2，並且會填補。",
        "when": "影像復原／壓縮：比較局部結構與對比，而非原始像素。",
    },
    "perceptual": {
        "summary": "由你提供的網路（.pt2）所產生之特徵圖間的距離",
        "derivative": "透過 φ 的自動微分求得（其權重凍結）：∂L/∂p = Σ_m (∂F_m/∂p)ᵀ ∂d_m/∂F_m",
        "convention": "Johnson et al. 2016 的特徵重建損失（使用你以 torch.export 匯出的網路，例如 VGG16 "
        "features[:16]；以 eval 模式執行、轉型為輸入的 dtype、權重凍結）",
        "differs": "LPIPS 會對通道做正規化並套用學習而得的權重（需下載）；losscli 不附帶任何網路。"
        "輸入會原樣傳入：請事先套用該網路自己的正規化（例如 ImageNet 的 mean/std），"
        "或在 scripted module 內部進行。",
        "when": "超解析度、風格轉換、影像生成：懲罰網路所能看出的差異。",
    },
    # ---------------------------------------------------------------------- metric
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
    # -------------------------------------------------------------- regularization
    "l1": {
        "summary": "L1 權重懲罰：|w| 的總和",
        "derivative": "∂R/∂wᵢ = sign(wᵢ)，在 wᵢ = 0 處為 0（torch：sign(0) = 0）",
        "convention": "Keras regularizers.L1，取 l1 = 1（係數寫在運算式中：1e-4*l1）",
        "differs": "Keras 把係數併入其中（L1(0.01) = 0.01 Σ|w|）；torch 沒有內建的 L1 懲罰。",
        "when": "透過 --input weights=FILE 加到資料損失上，把參數推向恰好為零（稀疏性）。",
    },
    "l2": {
        "summary": "L2 權重懲罰：w² 的總和",
        "derivative": "∂R/∂wᵢ = 2 wᵢ",
        "convention": "Keras regularizers.L2，取 l2 = 1（係數寫在運算式中：0.01*l2）",
        "differs": "optax l2_loss 與 SGD 權重衰減使用 ½ Σ w²（見 l2-half）：λ·l2 = 2λ·l2-half。"
        "這與別名 l2-loss 不同，後者指的是 MSE。",
        "when": "透過 --input weights=FILE 加到資料損失上，讓參數保持很小（ridge、權重衰減）。",
    },
    "l2-half": {
        "summary": "半 L2 權重懲罰：w² 的總和 / 2",
        "derivative": "∂R/∂wᵢ = wᵢ",
        "convention": "optax.l2_loss(w) 加總（= ½‖w‖²，即梯度為 SGD 權重衰減 λw 的懲罰項）",
        "differs": "Keras L2 沒有 ½：l2 = 2 · l2-half。",
        "when": "寫成損失形式的權重衰減：λ·l2-half 恰好在每個參數的梯度上加上 λw。",
    },
}


def _merge() -> None:
    """Add the per-group modules of losscli/zh_tw; a loss named twice is a mistake."""
    from losscli.zh_tw import classification, generative, likelihood, llm, margin, ranking, vision

    for part in (likelihood, classification, margin, ranking, vision, generative, llm):
        for name, texts in part.LOSS_TEXTS.items():
            if name in LOSS_TEXTS:
                raise ValueError(f"zh-TW texts for {name!r} given twice")
            LOSS_TEXTS[name] = texts


_merge()
