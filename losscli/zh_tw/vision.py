"""Traditional Chinese texts of the image and detection losses (losscli/losses/image.py, losscli/losses/detection.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {
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
}
