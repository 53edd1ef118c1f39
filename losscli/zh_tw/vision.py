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
        "Keras Dice 只在分母加上 1e-7，並把整個輸入攤平（axis=None）。[0, 1] 以外的值照原樣計算，與 Keras 相同。"
        "s > 0 時，空的目標搭配空的預測得到損失 0；s = 0 時 losscli 會拒絕這種 0/0。",
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
        "convention": "segmentation_models_pytorch soft_tversky_score，即 TverskyLoss(alpha=0.5, beta=0.5, gamma=1, "
        "mode='multilabel', smooth=s) 內部的分數：alpha 作用於偽陽性 Σ p (1 - y)，beta 作用於偽陰性 Σ (1 - p) y，"
        "與 Salehi et al. 2017 相同；每個類別都計入",
        "differs": "Keras Tversky(alpha, beta) 把 alpha 放在 Σ y (1 - p)（偽陰性）、beta 放在 Σ p (1 - y)（偽陽性），"
        "與其說明文件相反；它把整個輸入攤平（axis=None），並在分母加上 1e-7：Keras Tversky(alpha=a, beta=b) "
        "等於在單一遮罩上使用 -p alpha=b -p beta=a -p smooth=0（其測試：alpha=0.2、beta=0.8 時為 0.7917）。"
        "[0, 1] 以外的值照原樣計算，與 Keras 相同（smp 會把分母以 1e-7 為下限截斷）。"
        "smp 的 TverskyLoss（與其 DiceLoss 相同）還會在取平均前把目標中不存在的類別之損失設為 0；losscli 保留它"
        "（-p smooth=0 時會拒絕分母為 0 的類別）。"
        "α = β = ½ 等於平滑項為 2s 的 Dice（s = 0 時完全相同）；α = β = 1 等於 IoU。",
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
    "giou": {
        "summary": "(x1, y1, x2, y2) 方框的廣義 IoU（GIoU）損失",
        "derivative": "以連鎖律通過各角點的 min/max 求得（torch 的平手規則：各取 ½）；不重疊的方框不會經由 I 得到梯度",
        "convention": "torchvision.ops.generalized_box_iou_loss(boxes1=preds, boxes2=targets, reduction, eps=1e-7)",
        "differs": "torchvision 的預設 reduction 為 'none'（losscli 為 mean），沒有方框時回傳 0"
        "（losscli 拒絕空的輸入）；fvcore giou_loss 是同一公式；DETR 的成對 generalized_box_iou 沒有 eps。"
        "此損失是對稱的；這裡只有 preds 會得到梯度。",
        "when": "預測框與真實框可能不重疊的方框迴歸：與 1 - IoU 不同，此時仍有梯度把方框拉向目標。",
    },
    "diou": {
        "summary": "(x1, y1, x2, y2) 方框的距離 IoU（DIoU）損失",
        "derivative": "以連鎖律通過各角點的 min/max 求得（torch 的平手規則：各取 ½）；∂(ρ²/c²) 把中心點移向目標的中心",
        "convention": "torchvision.ops.distance_box_iou_loss(boxes1=preds, boxes2=targets, reduction, eps=1e-7)",
        "differs": "torchvision 的預設 reduction 為 'none'（losscli 為 mean），沒有方框時回傳 0"
        "（losscli 拒絕空的輸入）。與 detectron2 的 diou_loss 公式相同，torchvision 即取自該處。",
        "when": "希望比 GIoU 收斂更快的方框迴歸：即使一個方框包含另一個，中心距離項仍然有作用。",
    },
    "ciou": {
        "summary": "(x1, y1, x2, y2) 方框的完整 IoU（CIoU）損失（DIoU 加上長寬比項）",
        "derivative": "同 diou，再加上把 α 視為常數的 α ∂v/∂p（torchvision 在 torch.no_grad() 之下計算 α）："
        "梯度並不是數值經由 α 的導數",
        "convention": "torchvision.ops.complete_box_iou_loss(boxes1=preds, boxes2=targets, reduction, eps=1e-7)；"
        "與其相同，eps 只進入 α（IoU 與距離項使用 1e-7）",
        "differs": "ultralytics bbox_iou(CIoU=True) 同樣不對 α 求梯度，但在高度上加 eps（w/(h + eps)）；"
        "detectron2 的 ciou_loss 是 torchvision 所採用的來源。torchvision 的預設 reduction 為 'none'"
        "（losscli 為 mean）。高度為 0 的方框會被拒絕（atan(w/0)），torchvision 不做此檢查。",
        "when": "也要符合目標方框長寬比的方框迴歸（YOLO 類的偵測器）。",
    },
    "generalized-dice": {
        "summary": "廣義 Dice 損失：以 1/(Σ target)² 為類別加權的 Dice",
        "derivative": "對類別 c 的 p：∂ℓ_n/∂p = -(2 w_c y D - N w_c) / D²（N、D 為分子與分母；權重只取決於目標）",
        "convention": "MONAI GeneralizedDiceLoss(include_background=True, w_type='square', smooth_nr=1e-5, "
        "smooth_dr=1e-5, batch=False, reduction='mean')；權重與 MONAI 的 w_func(ground_o.float()) 相同，以 float32 計算",
        "differs": "optax multiclass_generalized_dice_loss 是另一種損失：它以正規化為平均 1 的 1/((Σ y)² + 1e-7) "
        "為各類別的 Dice 損失（smooth=1）加權後取平均，而不是在同一個比值內為加總加權（Sudre et al.）。"
        "不提供 MONAI 的 to_onehot_y（類別索引目標）：請給 one-hot 目標。",
        "when": "含稀有類別的多類別分割：每個類別的份量大致相同，不論它有多少像素。",
    },
    "ms-ssim": {
        "summary": "1 - MS-SSIM（多尺度結構相似度），5 個尺度，高斯視窗",
        "derivative": "透過濾波與池化（與帶狀矩陣的矩陣乘積）及冪次乘積的自動微分求得：Π 對 cs_s 的偏導數為 w_s Π / cs_s",
        "convention": "pytorch_msssim ms_ssim（loss = 1 - ms_ssim(X, Y, data_range=R, size_average=True, "
        "win_size=11, win_sigma=1.5, weights=[0.0448, 0.2856, 0.3001, 0.2363, 0.1333], K=(0.01, 0.03))；"
        "--reduction none 給出 1 - ms_ssim(..., size_average=False)，每張影像一個值）",
        "differs": "pytorch_msssim 預設 data_range=255，並以 float32 建立視窗（數值一致到相對 ~1e-5）；"
        "它斷言 min(H, W) > (win_size - 1) * 16（win_size=11 時為 161），losscli 會拒絕較小的影像並指出此最小值；"
        "不提供其 5 維體積資料（N x C x T x H x W）。每個尺度的 cs 與最後一個 SSIM 上的 relu 是 pytorch_msssim 的做法"
        "（Wang et al. 2003 的乘積沒有它）；奇數邊長在池化前補零且零也計入平均，"
        "因此以其他方式填補或裁切的實作在奇數邊長上數值略有不同。",
        "when": "在數個解析度上的結構都重要的影像復原與壓縮（比 SSIM 更不受觀看尺度影響）；常與 L1 混合使用（Zhao et al. 2017）。",
    },
    "lovasz": {
        "summary": "二元 Lovász hinge：作用於 logits 的 Jaccard（IoU）損失之凸替代函數",
        "derivative": "e_j > 0 時 ∂ℓ/∂x_j = -(2 y_j - 1) g_{k(j)}（否則為 0），k(j) 為 e_j 的排名："
        "在排序順序改變之間，損失是線性的",
        "convention": "segmentation_models_pytorch LovaszLoss(mode='binary', per_image=False, ignore_index=None) "
        "= _lovasz_hinge（Berman et al. 2018 的 lovasz_hinge）；mode='multilabel' 在 N x C x H x W 上相同",
        "differs": "smp 的函式 _lovasz_hinge 預設 per_image=True，其 LovaszLoss 類別預設為 False"
        "（losscli：False，與類別相同）；所有像素都被忽略的影像在平均中貢獻 0，與 smp 相同。"
        "0、1 與 ignore_index 以外的標籤會被拒絕（smp 會把 2 讀成符號 3）。排序中的平手不論順序都得到相同的值。",
        "when": "以 IoU 評估的二元分割：直接最佳化 Jaccard 指數（常在以 BCE 訓練數個 epoch 之後）。",
    },
    "lovasz-softmax": {
        "summary": "多類別 Lovász-Softmax：各類別平均 Jaccard（IoU）損失的替代函數",
        "derivative": "∂ℓ_c/∂p_{j,c} = -sign(fg_j - p_{j,c}) g_{k(j)} / （取平均的類別數），k(j) 為像素 j "
        "在類別 c 的誤差排名；使用 from_logits 時再乘以 softmax 的 Jacobian",
        "convention": "segmentation_models_pytorch _lovasz_softmax(probas, labels, classes='present', per_image=False, "
        "ignore=None)（Berman et al. 2018 的 lovasz_softmax）；from_logits=true 即 LovaszLoss(mode='multiclass')，"
        "它會先套用 softmax(dim=1)",
        "differs": "smp 的 classes 也可以是類別編號的清單（此處不提供）。smp 對單一類別"
        "（'Sigmoid output possible only with 1 class'）及 3 維機率（讀作 B x H x W、一個類別）會引發錯誤："
        "losscli 拒絕它們並建議改用 lovasz。所有像素都被忽略時 smp 回傳空張量：會被拒絕。"
        "0..C-1 以外的標籤（smp 把它們當成每個類別的背景）會被拒絕。機率照原樣使用（不檢查總和是否為 1），與 smp 相同。",
        "when": "以平均 IoU 評估的多類別語意分割，在交叉熵之後進行微調。",
    },
}
