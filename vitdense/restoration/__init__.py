"""Image restoration (super-resolution, denoising, JPEG artifact removal) on mmengine: GRL network,
restorer model, paired/degraded image datasets and transforms, PSNR/SSIM metrics."""
