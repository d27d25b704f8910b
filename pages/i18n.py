"""Interface text in English and Chinese.

The language follows the browser (``st.context.locale``) unless the sidebar switch picks one.
Answers are not translated here: they follow the language of the question. The interface's
strings live here, in the UI layer; the backend's progress events carry stage keys (``status_*``).
Every key has both languages (checked by tests/test_app.py).
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "zh")


def pick_language(choice: str | None, browser_locale: str | None) -> str:
    """'en' or 'zh': an explicit choice wins, else the browser's locale ('zh-CN' → 'zh')."""
    if choice in LANGUAGES:
        return str(choice)
    return "zh" if (browser_locale or "").lower().startswith("zh") else "en"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"

    def has(self, key: str) -> bool:
        return key in STRINGS

    def __call__(self, key: str, **fields: Any) -> str:
        en, zh = STRINGS.get(key, (key, key))
        text = zh if self.lang == "zh" else en
        return text.format(**fields) if fields else text

    def status(self, stage: str) -> str:
        """The agent's progress stage (``backend.answering.events.Status``) as a message."""
        return self(f"status_{stage}")


# key: (English, 中文)
STRINGS: dict[str, tuple[str, str]] = {
    # the agent's progress stages (backend.answering.events.Status)
    "status_facts": ("Looking up the financial statements…", "正在查询财务报表…"),
    "status_tables": ("Reading the report's tables…", "正在查阅报告中的表格…"),
    "status_search": ("Searching the reports…", "正在检索报告…"),
    "status_plan": ("Planning the calculation…", "正在规划计算…"),
    "status_write": ("Writing the answer…", "正在撰写回答…"),
    "status_read": ("Reading the sources…", "正在阅读来源…"),
    "best_evidence": ("Best evidence so far ({label}):", "目前最相关的依据（{label}）："),
    # navigation, start-up
    "nav_chat": ("Chat", "问答"),
    "nav_reports": ("Reports", "报告"),
    "nav_admin": ("Admin", "管理"),
    "startup_failed": (
        "Annalyst could not start (unexpected error; the server log has the "
        "details). Check the settings (ANNALYST_* variables) and restart the app.",
        "Annalyst 无法启动（意外错误，详情见服务器日志）。请检查 ANNALYST_* 设置后重启应用。",
    ),
    "settings_invalid": (
        "A setting has a value Annalyst cannot use; fix the ANNALYST_* variable named below and "
        "restart the app.\n\n{error}",
        "某个设置的值无法使用；请修改下方指出的 ANNALYST_* 变量后重启应用。\n\n{error}",
    ),
    "unexpected_error": (
        "Something went wrong that Annalyst did not expect; the server log has "
        "the details. Try again, or start a new chat.",
        "发生了意外错误，详情见服务器日志。请重试或开始新的对话。",
    ),
    # chat
    "chat_title": ("Ask your annual reports", "向年报提问"),
    "new_chat": ("New chat", "新对话"),
    "filters": ("Filters", "筛选"),
    "company": ("Company", "公司"),
    "year": ("Fiscal year", "会计年度"),
    "documents": ("Documents", "文档"),
    "all": ("All", "全部"),
    "all_documents": ("All documents", "全部文档"),
    "no_reports": (
        "No reports are indexed yet. Upload annual reports (PDF) on the Reports page, "
        "then come back to ask questions.",
        "尚未索引任何报告。请先在“报告”页面上传年报（PDF），然后回来提问。",
    ),
    "go_reports": ("Go to the Reports page", "前往报告页面"),
    "ask_placeholder": (
        "Ask about revenue, margins, risks… (English or 中文)",
        "询问营业收入、利润率、风险等……（中文或英文）",
    ),
    "model_label": ("Model: **{name}** · version {version}", "模型：**{name}** · 版本 {version}"),
    "model_loading": (
        "Loading the model… the first answer waits for it.",
        "正在加载模型……第一个回答需等待加载完成。",
    ),
    "model_error": ("The model could not be loaded: {error}", "模型无法加载：{error}"),
    "retry": ("Retry", "重试"),
    "working": ("Working…", "处理中…"),
    "failed": ("Failed", "失败"),
    "answered_in": ("Answered in {s:.1f} s", "用时 {s:.1f} 秒"),
    "unverified": (
        "Check these numbers: they were not found on the cited pages: {numbers}",
        "请核对以下数字：在引用页面中未找到：{numbers}",
    ),
    "degraded": (
        "Searched with keywords only, so passages may be missing: {reason}",
        "仅使用关键词检索，可能遗漏相关段落：{reason}",
    ),
    "highlighted": ("Highlighted: {terms}", "已高亮：{terms}"),
    "image_missing_pdf": (
        "The original PDF is no longer at its stored location; the page text "
        "above comes from the index. Re-upload the report to see the page.",
        "原始 PDF 已不在存储位置；左侧页面文本来自索引。重新上传报告即可查看页面。",
    ),
    "image_render_failed": (
        "This page could not be rendered as an image; its text is shown.",
        "该页面无法渲染为图像，已显示其文本。",
    ),
    "trace": ("How this answer was made", "回答过程"),
    "tool": ("Tool", "工具"),
    "step_plan": ("Plan", "规划"),
    "step_route": ("Route", "路由"),
    "step_refuse": ("Refused", "拒答"),
    "step_search": ("Search", "检索"),
    "step_model_plan": ("Model's tool choice", "模型选择的工具"),
    "step_plan_error": ("Model's plan was not valid JSON", "模型规划不是有效 JSON"),
    "step_calc_rejected": ("Calculation rejected", "计算被拒绝"),
    # conversations, answers, exports, feedback
    "conversations": ("Conversations", "对话记录"),
    "no_conversations": ("No conversations yet.", "还没有对话。"),
    "untitled": ("New conversation", "新对话"),
    "conv_missing": (
        "That conversation no longer exists (deleted in another tab?); a new chat is open.",
        "该对话已不存在（可能已在其他标签页删除）；已打开新对话。",
    ),
    "manage_chat": ("This conversation", "当前对话"),
    "chat_title_label": ("Title", "标题"),
    "rename": ("Rename", "重命名"),
    "confirm_delete_chat": ("Confirm delete", "确认删除"),
    "delete_chat": ("Delete conversation", "删除对话"),
    "export_chat": ("Export conversation (Markdown)", "导出对话（Markdown）"),
    "examples": ("Try one of these, or ask your own question:", "试试这些问题，或直接提问："),
    "filters_on": (
        "Filters on: {filters} — questions are answered from these reports only.",
        "已启用筛选：{filters} —— 仅根据这些报告回答。",
    ),
    "understood_as": ("Understood as: {q}", "理解为：{q}"),
    "facts_model": ("financial statements (no model needed)", "财务报表（无需模型）"),
    "export_md": ("Markdown", "Markdown"),
    "export_csv": ("CSV", "CSV"),
    "export_xlsx": ("Excel", "Excel"),
    "trace_steps": ("Steps", "步骤"),
    "trace_json": ("Raw JSON", "原始 JSON"),
    "col_step": ("Step", "步骤"),
    "col_inputs": ("Inputs", "输入"),
    "col_result": ("Result", "结果"),
    "col_page": ("Page", "页码"),
    "step_tool": ("Tool call", "工具调用"),
    "step_withheld": ("Answer withheld", "回答被扣下"),
    "step_unanswered": ("Part of the question not found", "问题中未找到答案的部分"),
    "step_evidence": ("Evidence the model read", "模型阅读的依据"),
    "step_dropped": ("Sentence left out (not supported)", "未显示的句子（无依据）"),
    "lines_above": ("{n} lines above", "上方 {n} 行"),
    "correct": ("Correct", "纠正"),
    "correction": ("The right answer", "正确答案"),
    "correction_help": (
        "Stored with the question; an admin reviews corrections before they become training items.",
        "与问题一起保存；管理员审核后才会成为训练样本。",
    ),
    "save_correction": ("Save", "保存"),
    "correction_saved": ("Thanks — saved for review.", "谢谢，已保存待审核。"),
    # reports
    "reports_title": ("Reports", "报告"),
    "upload_label": ("Annual reports (PDF, up to {mb} MB each)", "年报（PDF，每个不超过 {mb} MB）"),
    "upload_button": ("Upload and index", "上传并建立索引"),
    "reports_locked": (
        "Browsing is open; uploading, deleting, re-indexing and editing need the admin password.",
        "可以浏览；上传、删除、重新索引和编辑需要管理员密码。",
    ),
    "reports_unlocked": ("Changes unlocked for this session.", "本会话已解锁修改。"),
    "exposed_open": (
        "This app listens on {address} and no password is set: anyone who can reach it can "
        "upload or delete reports. Set ANNALYST_ADMIN_PASSWORD, or serve on 127.0.0.1.",
        "本应用监听 {address} 且未设置密码：任何能访问它的人都能上传或删除报告。请设置 "
        "ANNALYST_ADMIN_PASSWORD，或只在 127.0.0.1 上提供服务。",
    ),
    "upload_none": ("Choose one or more PDF files first.", "请先选择一个或多个 PDF 文件。"),
    "already_indexed": (
        "{file} is already indexed (as {label}); nothing to do.",
        "{file} 已经索引过（{label}），无需重复。",
    ),
    "already_queued": ("{file} is already being processed.", "{file} 已在处理中。"),
    "queued": (
        "{file}: queued — progress below. You can leave this page.",
        "{file}：已加入队列，进度见下方。可以离开此页面。",
    ),
    "jobs_title": ("Processing", "处理进度"),
    "op_add": ("index", "索引"),
    "op_reindex": ("re-index", "重新索引"),
    "op_remove": ("delete", "删除"),
    "stage_queued": ("waiting", "等待中"),
    "stage_parse": ("reading pages", "读取页面"),
    "stage_chunk": ("splitting into passages", "切分段落"),
    "stage_embed": ("embedding passages", "向量化段落"),
    "stage_facts": ("extracting financial statements", "提取财务报表"),
    "stage_write": ("saving", "保存"),
    "stage_done": ("done", "完成"),
    "result_indexed": (
        "Indexed: {pages} pages, {chunks} passages, {facts} facts, accounting "
        "checks {ok} passed / {bad} failed · detected {company}, FY {year} · "
        "{seconds} s. Wrong company or year? Correct it in the list below.",
        "已索引：{pages} 页，{chunks} 个段落，{facts} 条财务数据，勾稽检查 {ok} 通过 / "
        "{bad} 未通过 · 识别为 {company}，{year} 年度 · {seconds} 秒。公司或年度有误？"
        "请在下方列表中更正。",
    ),
    "result_replaced": (
        "Replaced {old}: an earlier version of this report (same name, company, year and type); "
        "its passages, vectors and facts were deleted.",
        "已替换 {old}：同一报告的旧版本（名称、公司、年度和类型相同）；其段落、向量和财务数据已删除。",
    ),
    "result_kept": (
        "Also indexed under this name: {other}, a different report; both are kept.",
        "同名的另一份报告 {other} 仍保留；两份报告均已索引。",
    ),
    "result_unchanged": (
        "Already indexed, unchanged: {company}, FY {year} ({pages} pages).",
        "已索引且未变化：{company}，{year} 年度（{pages} 页）。",
    ),
    "removed": (
        "{file} was deleted with all its passages, vectors and facts.",
        "{file} 已删除（包括段落、向量和财务数据）。",
    ),
    "indexed_title": ("Indexed reports ({n})", "已索引报告（{n}）"),
    "no_reports_yet": ("No reports yet: upload PDFs above.", "还没有报告：请在上方上传 PDF。"),
    "doc_stats": (
        "{pages} pages · {chunks} passages · {facts} facts · checks {checks_passed} ✓ / {checks_failed} ✗ · "
        "language {language} · id {doc_id}",
        "{pages} 页 · {chunks} 个段落 · {facts} 条财务数据 · 勾稽 {checks_passed} ✓ / {checks_failed} ✗ · "
        "语言 {language} · 编号 {doc_id}",
    ),
    "report_type": ("Report type", "报告类型"),
    "year_help": ("0 = unknown", "0 表示未知"),
    "save_meta": ("Save company / year", "保存公司 / 年度"),
    "meta_saved": (
        "Saved. Questions now use the corrected company and year.",
        "已保存。之后的提问将使用更正后的公司和年度。",
    ),
    "reindex": ("Re-index", "重新索引"),
    "confirm_delete": ("Confirm delete", "确认删除"),
    "delete": ("Delete", "删除"),
    # admin
    "admin_title": ("Admin", "管理"),
    "admin_unset": (
        "The admin page is locked: no password is configured. Set the environment "
        "variable ANNALYST_ADMIN_PASSWORD and restart the app. Chat and uploads "
        "stay open to everyone.",
        "管理页面已锁定：未配置密码。请设置环境变量 ANNALYST_ADMIN_PASSWORD 并重启应用。"
        "问答和上传功能对所有人开放。",
    ),
    "password": ("Admin password", "管理员密码"),
    "unlock": ("Unlock", "解锁"),
    "wrong_password": ("Wrong password.", "密码错误。"),
    "lock": ("Lock admin", "锁定管理页面"),
    "password_wait": (
        "After a wrong password the next attempt waits: try again in {s:.0f} s.",
        "密码错误后需等待：请 {s:.0f} 秒后再试。",
    ),
    "tab_feedback": ("Feedback", "用户反馈"),
    "feedback_none": (
        "No corrections waiting for review. Users correct answers from the chat (✏️ Correct).",
        "没有待审核的纠正。用户可在问答中点“✏️ 纠正”。",
    ),
    "feedback_question": ("Question", "问题"),
    "feedback_model": ("Annalyst answered", "Annalyst 的回答"),
    "feedback_fix": ("Correction", "纠正"),
    "accept": ("Accept as training item", "采纳为训练样本"),
    "reject": ("Reject", "拒绝"),
    "feedback_written": (
        "{n} accepted corrections are in {path} (chat-format training items).",
        "{n} 条已采纳的纠正保存在 {path}（对话格式训练样本）。",
    ),
    "nothing_to_roll_back": (
        "There is no earlier model to roll back to.",
        "没有可回滚的更早模型。",
    ),
    "tab_data": ("Training data", "训练数据"),
    "tab_training": ("Fine-tuning", "微调"),
    "tab_models": ("Models & evaluation", "模型与评估"),
    "fewshot_start": (
        "Generate training data from the indexed reports",
        "从已索引报告生成训练数据",
    ),
    "fewshot_per_doc": ("Items to propose per report", "每份报告生成的候选样本数"),
    "fewshot_llm": (
        "Let the model write items over narrative passages",
        "由模型基于叙述段落撰写样本",
    ),
    "fewshot_llm_help": (
        "Off: only facts-table templates, refusals and hand-written seeds (fast, no model).",
        "关闭时仅使用财务数据模板、拒答样本和人工种子（快速，不用模型）。",
    ),
    "fewshot_running": ("Generating training data…", "正在生成训练数据……"),
    "fewshot_progress": ("Generating: {done} / {total}", "生成中：{done} / {total}"),
    "train_items": ("Training items", "训练样本"),
    "val_items": ("Validation items", "验证样本"),
    "data_card": ("Data card", "数据卡"),
    "sample_item": ("Sample: {id}", "样本：{id}"),
    "log_tail": ("Log (last lines)", "日志（末尾）"),
    "job_failed": (
        "The job stopped with an error (exit code {code}); see the log.",
        "任务出错停止（退出码 {code}），请查看日志。",
    ),
    "job_stopped": (
        "The job was stopped before it finished. A training run keeps its last checkpoint: "
        "start it again with the same settings to resume.",
        "任务在完成前被停止。训练任务会保留最近的检查点：用相同设置再次启动即可继续。",
    ),
    "base_model": ("Base model", "基础模型"),
    "steps": ("Steps", "步数"),
    "lora_rank": ("LoRA rank", "LoRA 秩"),
    "train_nproc": ("Processes", "进程数"),
    "train_nproc_help": (
        "Training processes, data parallel: one per GPU (NCCL), or several on the CPU (gloo). "
        "Each trains on its share of the items.",
        "数据并行的训练进程数：每块 GPU 一个（NCCL），或在 CPU 上多个（gloo）。每个进程训练一部分数据。",
    ),
    "train_data": ("Training data folder", "训练数据目录"),
    "train_data_help": (
        "Folder with train.jsonl, val.jsonl and card.json (from the Training data tab).",
        "包含 train.jsonl、val.jsonl 和 card.json 的目录（见“训练数据”页）。",
    ),
    "batch_size": ("Batch", "批大小"),
    "device": ("Device", "设备"),
    "device_help_gpu": (
        "auto uses the GPU found here (bf16 LoRA; QLoRA from 7B).",
        "auto 使用本机的 GPU（bf16 LoRA；7B 起用 QLoRA）。",
    ),
    "device_help_cpu": (
        "No GPU here: a CPU run of the 1.5B takes days. Use a small base (smollm2-135m) for a "
        "trial, or train on a GPU machine (below).",
        "本机没有 GPU：在 CPU 上训练 1.5B 需要数天。可先用小模型（smollm2-135m）试跑，或在 GPU 机器上训练（见下）。",
    ),
    "estimate": (
        "Estimated training time: {time} ({tokens} tokens a step at {tok_s} tokens/s; "
        "speed from {source}). Loading, export and checks add a few minutes.",
        "预计训练时间：{time}（每步 {tokens} 个词元，{tok_s} 词元/秒；速度来自 {source}）。"
        "加载、导出和检查另需几分钟。",
    ),
    "estimate_no_data": (
        "No training data at that path yet: generate it on the Training data tab.",
        "该路径下还没有训练数据：请先在“训练数据”页生成。",
    ),
    "estimate_unknown": (
        "No measured speed for this base and device yet: the first run's progress shows it.",
        "此模型与设备尚无实测速度：首次运行的进度会显示。",
    ),
    "estimate_slow": (
        "That is too long for this machine: train on a GPU machine instead.",
        "在本机耗时过长：请改在 GPU 机器上训练。",
    ),
    "gpu_elsewhere": ("Train on a GPU machine", "在 GPU 机器上训练"),
    "gpu_elsewhere_help": (
        "1. Export a bundle (the data, the base model in pieces, run.sh). 2. Copy it to a GPU "
        "host with this repository and run the two commands shown. 3. Upload the adapter "
        "(run/lora-f16.gguf) below, evaluate it on the Models tab, then activate it.",
        "1. 导出训练包（数据、分片的基础模型、run.sh）。2. 复制到装有本项目的 GPU 主机并运行下方两条命令。"
        "3. 在下方上传适配器（run/lora-f16.gguf），在“模型”页评估后启用。",
    ),
    "bundle_start": ("Export training bundle", "导出训练包"),
    "bundle_running": ("Writing the bundle…", "正在写入训练包…"),
    "bundle_done": (
        "Bundle written to {out}. On the GPU host:",
        "训练包已写入 {out}。在 GPU 主机上运行：",
    ),
    "adapter_upload": ("LoRA adapter (GGUF) trained elsewhere", "在别处训练的 LoRA 适配器（GGUF）"),
    "adapter_name": ("Version name", "版本名称"),
    "adapter_import": ("Import adapter", "导入适配器"),
    "adapter_imported": (
        "Registered {version} (not active): evaluate it on the Models tab, then activate.",
        "已登记 {version}（未启用）：请在“模型”页评估后启用。",
    ),
    "fewshot_cancel": ("Stop", "停止"),
    "train_start": ("Start training", "开始训练"),
    "no_runs": ("No training run yet.", "还没有训练任务。"),
    "run_title": ("Run {run}: {state}", "任务 {run}：{state}"),
    "state_none": ("none", "无"),
    "state_starting": ("starting", "启动中"),
    "state_running": ("running", "运行中"),
    "state_exporting": ("exporting the model", "导出模型中"),
    "state_completed": ("completed", "已完成"),
    "state_cancelled": ("cancelled", "已取消"),
    "state_failed": ("failed", "失败"),
    "state_stopped": ("stopped", "已停止"),
    "state_finished": ("finished", "已结束"),
    "train_progress": (
        "Step {step} / {total} · loss {loss} · ETA {eta}",
        "第 {step} / {total} 步 · 损失 {loss} · 预计剩余 {eta}",
    ),
    "train_cancel": ("Cancel (at the next step)", "取消（下一步停止）"),
    "train_cancel_help": (
        "Stops at the next step and keeps a checkpoint; starting again resumes.",
        "在下一步停止并保存检查点；再次启动可继续。",
    ),
    "train_kill": ("Stop now", "立即停止"),
    "cancel_requested": ("Cancellation requested.", "已请求取消。"),
    "train_done": (
        "Training finished; registered as version {version}. Evaluate and activate "
        "it in the Models tab.",
        "训练完成，已注册为版本 {version}。请在“模型与评估”页评估并启用。",
    ),
    "col_model": ("Model", "模型"),
    "col_version": ("Version", "版本"),
    "col_active": ("Active", "当前"),
    "col_gate": ("Gate", "评估门槛"),
    "col_accuracy": ("Accuracy", "准确率"),
    "col_hit5": ("Page hit@5", "页面命中@5"),
    "col_refusal": ("Refusal (N/A)", "拒答（N/A）"),
    "col_latency": ("Latency (median s)", "延迟（中位数秒）"),
    "col_source": ("Scores from", "分数来源"),
    "base": ("base", "基础"),
    "version": ("Version", "版本"),
    "choose_version": ("Choose a version", "选择版本"),
    "force_activate": ("Activate anyway", "强制启用"),
    "force_help": (
        "Activate even if the version has not beaten the active model in evaluation.",
        "即使该版本评估未超过当前模型也启用。",
    ),
    "activate": ("Activate", "启用"),
    "activated": (
        "Version {version} is active; the chat uses it from the next question.",
        "版本 {version} 已启用；下一个问题起生效。",
    ),
    "rollback": ("Roll back to the previous model", "回滚到上一个模型"),
    "rolled_back": ("Rolled back; active: {version}.", "已回滚；当前：{version}。"),
    "history": ("Activation history", "启用历史"),
    "eval_title": ("Evaluate on the dev set", "在开发集上评估"),
    "eval_model": ("Model", "模型"),
    "eval_limit": ("Questions", "问题数"),
    "eval_ingest": ("Index needed reports", "索引所需报告"),
    "eval_ingest_help": (
        "Base models: first index the reports the questions are about (from the "
        "corpus folder); slow the first time.",
        "先索引问题涉及的报告（来自语料目录），首次较慢。",
    ),
    "eval_start": ("Evaluate", "开始评估"),
    "eval_stop": ("Stop evaluation", "停止评估"),
    "eval_progress": (
        "Evaluating {row}: {done} / {total} questions",
        "正在评估 {row}：{done} / {total} 个问题",
    ),
}
