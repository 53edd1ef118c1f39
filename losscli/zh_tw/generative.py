"""Traditional Chinese texts of the generative, distribution and sequence losses (generative.py, distribution.py, sequence.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "kl-div": {
        "summary": "Kullback-Leibler 散度 KL(targets || preds)",
        "derivative": "∂ℓᵢ/∂q_{ic} = -p_{ic} / q_{ic}；使用 log_input 時 ∂ℓᵢ/∂(log q)_{ic} = -p_{ic}",
        "convention": "torch.nn.functional.kl_div(log q, p, reduction='batchmean') = "
        "scipy.stats.entropy(p, q, axis=1) 對各列取平均",
        "differs": "torch 的 reduction='mean' 是除以 N·C（那不是 KL）；torch 的參數順序是 (log q, p)；"
        "Keras 會把兩者都裁剪到 [1e-7, 1]。1-D 輸入視為單一分佈（對其 C 個類別加總，與 scipy 相同）；torch 的 batchmean 會把 1-D 輸入除以 C。",
        "when": "知識蒸餾與分佈匹配；此處 --reduction mean 就是 batchmean。",
    },
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
}
