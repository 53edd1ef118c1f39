"""Traditional Chinese texts of the generative, distribution and sequence losses (generative.py, distribution.py, sequence.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
    "kl-div": {
        "summary": "Kullback-Leibler 散度 KL(targets || preds)",
        "derivative": "∂ℓᵢ/∂q_{ic} = -p_{ic} / q_{ic}；使用 log_input 時 ∂ℓᵢ/∂(log q)_{ic} = -p_{ic}",
        "convention": "torch.nn.functional.kl_div(log q, p, reduction='batchmean', log_target=False) = "
        "scipy.stats.entropy(p, q, axis=1) 對各列取平均；-p batchmean=false 即 torch 的 reduction='mean'（以及 'none'）；"
        "-p log_target=true 即 torch 的 log_target=True，exp(t) (t - log q)",
        "differs": "torch 的 reduction='mean' 是除以 N·C（那不是 KL；-p batchmean=false 可得到它）；"
        "torch 的參數順序是 (log q, p)，且其輸入永遠是 log q（-p log_input=true）；"
        "Keras 會把兩者都裁剪到 [1e-7, 1]。1-D 輸入視為單一分佈（對其 C 個類別加總，與 scipy 相同）；"
        "torch 的 batchmean 會把 1-D 輸入除以 C（batchmean=false 時即 torch 的 'mean'，Σ / C）。"
        "維度更多的輸入 N x C x d1 ... 會在每列對第一軸以外的所有軸加總，正如 torch 的 batchmean 除以 N。"
        "log_target=true 時，目標為 -inf 會得到 NaN，與 torch 相同（exp(-inf) · inf）。",
        "when": "知識蒸餾與分佈匹配；此處 --reduction mean 就是 batchmean。",
    },
    "jsd": {
        "summary": "Jensen-Shannon 散度 ½ KL(P || M) + ½ KL(Q || M)，M = (P + Q) / 2，逐列計算",
        "derivative": "∂ℓᵢ/∂q_{ic} = ½ log(q_{ic} / m_{ic})（指定 base 時再 ÷ log base）",
        "convention": "Lin 1991 的 Jensen-Shannon 散度，自然對數：即每列 "
        "scipy.spatial.distance.jensenshannon(p, q)（預設以 e 為底）的平方，再對各列取平均",
        "differs": "scipy.spatial.distance.jensenshannon 回傳的是 Jensen-Shannon 距離，也就是此散度的平方根，"
        "而且會先把每列除以其總和；losscli 直接使用給定的各列，也不取平方根。base=2 時散度落在 [0, 1]。"
        "對 p 與 q 對稱；在 KL 發散之處（只有一個分佈為零）其值仍為有限，但在 q = 0 時對 q 的梯度為 -inf，因此 losscli 拒絕恰為 0 的預測值（目標中的 0 沒有問題）。",
        "when": "分佈之間有界且對稱的距離（原始 GAN 所最小化的散度）；比較預測與真實的類別分佈。",
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
    "gan-hinge-discriminator": {
        "summary": "hinge GAN 鑑別器損失 mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))",
        "derivative": "∂L/∂D(xᵢ) = -1/n（當 D(xᵢ) < 1），否則為 0；∂L/∂D(G(zⱼ)) = 1/m（當 D(G(zⱼ)) > -1），"
        "否則為 0（恰在 hinge 轉折點上為 0，與 torch relu 相同）",
        "convention": "SAGAN / BigGAN 的 hinge 損失，與 PyTorch-StudioGAN d_hinge（src/utils/losses.py）相同："
        "torch.mean(F.relu(1. - d_logit_real)) + torch.mean(F.relu(1. + d_logit_fake))",
        "differs": "有些程式碼只對串接後的真實與假樣本輸出取一次平均，當 n = m 時數值會減半。"
        "超出邊界的輸出（真實樣本 D(x) > 1、假樣本 D(G(z)) < -1）梯度恰為 0。"
        "--reduction sum 給出 Σ 真實樣本項 + Σ 假樣本項；none 先列出真實樣本項，再列出假樣本項。",
        "when": "訓練 SNGAN / SAGAN / BigGAN 類模型的鑑別器（hinge 損失、譜正規化）。",
    },
    "gan-hinge-generator": {
        "summary": "hinge GAN 生成器損失 -mean(D(fake))",
        "derivative": "∂L/∂D(G(zⱼ)) = -1/m",
        "convention": "SAGAN / BigGAN 的生成器損失，與 PyTorch-StudioGAN g_hinge（src/utils/losses.py）相同："
        "-torch.mean(d_logit_fake)",
        "differs": "數值與 wasserstein-generator 相同：hinge 只出現在鑑別器的損失中。"
        "有些程式碼改用 non-saturating 的 softplus(-D(G(z))) 來訓練 hinge 鑑別器所對應的生成器（gan-generator）。",
        "when": "對抗以 hinge 損失訓練的鑑別器來訓練生成器。",
    },
    "lsgan-discriminator": {
        "summary": "最小平方 GAN（LSGAN）鑑別器損失 ½ mean((D(real) - b)²) + ½ mean((D(fake) - a)²)",
        "derivative": "∂L/∂D(xᵢ) = (D(xᵢ) - b) / n；∂L/∂D(G(zⱼ)) = (D(G(zⱼ)) - a) / m",
        "convention": "Mao et al. 2017 的 LSGAN，與 torchgan.losses.functional "
        "least_squares_discriminator_loss(dx, dgz, a=0.0, b=1.0) = 0.5 * (mean((dx - b)**2) + mean((dgz - a)**2)) "
        "相同；PyTorch-StudioGAN d_ls 在 a = 0、b = 1 時亦同",
        "differs": "各實作的 ½ 係數不同：torchgan、StudioGAN d_ls 與 PyTorch-GAN 的 lsgan.py"
        "（0.5 * (MSE(real, 1) + MSE(fake, 0))）都把鑑別器損失減半，但 lsgan.py 沒有把生成器損失減半"
        "（見 lsgan-generator）。StudioGAN 對相加後的各項只取一次平均（n = m 時相同）。"
        "論文的另一種編碼是 a = -1、b = 1（生成器用 c = 0）。",
        "when": "訓練最小平方 GAN 的鑑別器（對位在決策邊界正確一側的假樣本，梯度不會消失）。",
    },
    "lsgan-generator": {
        "summary": "最小平方 GAN（LSGAN）生成器損失 ½ mean((D(fake) - c)²)",
        "derivative": "∂L/∂D(G(zⱼ)) = (D(G(zⱼ)) - c) / m",
        "convention": "Mao et al. 2017 的 LSGAN，與 torchgan.losses.functional "
        "least_squares_generator_loss(dgz, c=1.0) = 0.5 * mean((dgz - c)**2) 相同；"
        "PyTorch-StudioGAN g_ls 在 c = 1 時亦同",
        "differs": "PyTorch-GAN 的 lsgan.py 使用不帶 ½ 的 MSELoss(D(G(z)), 1)：數值與梯度都是此處的兩倍。"
        "論文的另一種編碼使用 c = 0（搭配 a = -1、b = 1）。",
        "when": "訓練最小平方 GAN 的生成器。",
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
        "'mean' 先把每條序列的損失除以其目標長度（截斷為 >= 1），再取平均；"
        "targets 可為填補後的 N x S，或串接的 1-D 形式（總長等於 target_lengths 之和），"
        "單一序列可為 T x C，輸入長度也可為 0，皆與 torch 的接受方式相同",
        "differs": "torch 對 log_probs 的反向傳播回傳 exp(log_probs) - 佔有率（這是對 logits 的梯度，"
        "假設接著會經過 log_softmax）；losscli 回報真正的梯度 -佔有率（一旦梯度經過 log_softmax，"
        "例如 from_logits=true，兩者就一致）。Keras CTC 接受 logits（批次維度在前），"
        "並以 0 作為 blank 與填補值；optax ctc_loss 對不可能的對齊給出很大的有限值"
        "（log_epsilon=-1e5），而不是 inf。目標比其輸入更長時會被拒絕，除非 zero_infinity=true。"
        "未給 target_lengths 時，小於 0 或等於 blank 的值視為填補；單一序列的 1-D targets 可以比其 target_lengths 更長"
        "（torch 會拒絕），多出的部分不會被讀取。",
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
