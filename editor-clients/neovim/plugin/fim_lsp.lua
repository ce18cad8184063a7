-- Load guard, help tags and the :FimLsp command. The server starts only once setup() is called.
if vim.g.loaded_fim_lsp then
  return
end
vim.g.loaded_fim_lsp = 1

if vim.fn.has('nvim-0.10') ~= 1 then
  vim.notify('fim-lsp needs Neovim 0.10 or newer', vim.log.levels.ERROR)
  return
end

-- `:help fim_lsp` needs doc/tags, which plugin managers generate but a runtimepath install
-- (README) does not: generate it when it is missing or older than the help file.
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p')
local doc = vim.fs.joinpath(vim.fs.dirname(vim.fs.dirname(here)), 'doc')
if
  vim.fn.getftime(doc .. '/tags') < vim.fn.getftime(doc .. '/fim_lsp.txt')
  and vim.fn.filewritable(doc) == 2
then
  pcall(vim.cmd.helptags, vim.fn.fnameescape(doc))
end

local subcommands = {
  status = function()
    print(require('fim_lsp').status())
  end,
  toggle = function()
    require('fim_lsp').toggle()
  end,
  restart = function()
    require('fim_lsp').restart()
  end,
  stop = function()
    require('fim_lsp').stop()
  end,
  log = function()
    vim.cmd.split(vim.lsp.get_log_path())
  end,
}

vim.api.nvim_create_user_command('FimLsp', function(args)
  local sub = subcommands[args.fargs[1] or 'status']
  if not sub then
    vim.notify('FimLsp: unknown subcommand ' .. args.fargs[1], vim.log.levels.ERROR)
    return
  end
  sub()
end, {
  nargs = '?',
  desc = 'fim-lsp: status | toggle | restart | stop | log',
  complete = function()
    return vim.tbl_keys(subcommands)
  end,
})
